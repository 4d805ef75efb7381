"""Per request: a trace id for the logs, English and the body-size limit (413) for the API."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.utils import translation

from bmc.api.errors import too_large_response
from bmc.logging import log_context_bind, log_context_reset


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        trace_id = request.headers.get("X-Trace-Id") or uuid.uuid4().hex
        request.trace_id = trace_id[:64]
        is_api = request.path.startswith("/api/")
        if is_api:
            try:
                length = int(request.headers.get("Content-Length") or 0)
            except ValueError:
                length = 0
            limit = (
                settings.DOCUMENTS_MAX_UPLOAD_BYTES
                if request.path == "/api/v1/documents/batches"
                else settings.API_MAX_BODY_BYTES
            )
            if length > limit:
                return too_large_response(limit)
        token = log_context_bind(trace_id=request.trace_id)
        try:
            # The API speaks English to the integrators; the admin keeps the staff's Spanish.
            with translation.override("en" if is_api else translation.get_language()):
                response = self.get_response(request)
        finally:
            log_context_reset(token)
        response["X-Trace-Id"] = request.trace_id
        return response
