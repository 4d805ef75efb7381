"""Per request: a trace id for the logs (the OpenTelemetry one when tracing is on), English and
the body-size limit (413) for the API; a database that does not answer is a 503 with Retry-After,
not a 500."""

from __future__ import annotations

import logging
import re
import uuid

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import JsonResponse
from django.utils import translation

from bmc.api.errors import database_unavailable_response, too_large_response
from bmc.api.parsers import text_problem
from bmc.logging import log_context_bind, log_context_reset
from bmc.tracing import span_trace_id_tag, trace_id_current

logger = logging.getLogger(__name__)
TRACE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def _query_not_text(request) -> JsonResponse | None:
    """A query parameter or path that is not text (a NUL, %00) is refused naming it, before any
    view hands it to the database."""
    if "\x00" in request.path:
        return _bad_request("path", "contains the NUL character (%00), which is not allowed in a path.")
    for name, values in request.GET.lists():
        for value in (name, *values):
            problem = text_problem(value)
            if problem:
                return _bad_request(name if value != name else "query", problem)
    return None


def _bad_request(field: str, problem: str) -> JsonResponse:
    return JsonResponse(
        {"error": {"code": "invalid", "message": f"{field}: {problem}", "fields": {field: [problem]}}}, status=400
    )


def _trace_id(request) -> str:
    """The request's trace id, in its logs and records: the request span's when tracing is on (a
    caller's `traceparent` continues the caller's trace); else a caller's X-Trace-Id, kept only if
    it is one (with tracing on, also tagged on the span); else a new one."""
    traced = trace_id_current()
    if traced and "traceparent" in request.headers:
        return traced
    caller = request.headers.get("X-Trace-Id", "")
    if TRACE_ID.fullmatch(caller):
        span_trace_id_tag(caller)
        return caller
    return traced or uuid.uuid4().hex


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.trace_id = _trace_id(request)
        is_api = request.path.startswith("/api/")
        if is_api:
            refused = _query_not_text(request)
            if refused:
                return refused
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
        rate_limit = getattr(request, "rate_limit", None)
        if rate_limit is not None:  # an API key's request (bmc/api/limits.py)
            limits, answer = rate_limit
            response["X-RateLimit-Limit"] = f"{limits.requests_per_second:g}"
            response["X-RateLimit-Burst"] = str(limits.burst)
            response["X-RateLimit-Remaining"] = str(answer.remaining)
        return response


class DatabaseUnavailableMiddleware:
    """A view that lost the database (a restart, a failover, connections refused or cut) answers
    503 with Retry-After and the API's error body instead of a 500: Meta sends a webhook answered
    503 again, and n8n a message, and they are served then."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        logger.error("database unavailable: answered 503", exc_info=exception, extra={"path": request.path})
        return database_unavailable_response()
