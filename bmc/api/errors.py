"""Every API error answers JSON: {"error": {"code", "message", "fields"?}}."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from django.views.defaults import page_not_found, server_error
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


def too_large_response(limit: int) -> JsonResponse:
    return JsonResponse(
        {"error": {"code": "payload_too_large", "message": f"Request body is over the limit of {limit // 1024} KB."}},
        status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    )


# Seconds a client should wait before it sends again work the broker could not take.
BROKER_RETRY_AFTER = 30
# ...or a request the database could not serve: a restart or a failover takes seconds.
DATABASE_RETRY_AFTER = 5


def unavailable_response(*, code: str, message: str, retry_after: int) -> JsonResponse:
    """503 with Retry-After: the same request, sent again after that many seconds, will do."""
    response = JsonResponse({"error": {"code": code, "message": message}}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
    response["Retry-After"] = str(retry_after)
    return response


def broker_unavailable_response() -> JsonResponse:
    return unavailable_response(
        code="broker_unavailable",
        message="The task could not be queued: the broker is unavailable. Nothing was kept; "
        f"send it again in {BROKER_RETRY_AFTER} seconds.",
        retry_after=BROKER_RETRY_AFTER,
    )


def database_unavailable_response() -> JsonResponse:
    """The database did not answer (restarted, failing over, refusing connections). A 503, not a
    500: Meta and n8n send a webhook or a message again after a 503, and what was half done is
    rolled back with its transaction, or found again by its idempotency key."""
    return unavailable_response(
        code="database_unavailable",
        message=f"The database is unavailable for a moment: send the same request again in {DATABASE_RETRY_AFTER} "
        "seconds (a message or a webhook already stored is not stored twice).",
        retry_after=DATABASE_RETRY_AFTER,
    )


def exception_handler(exc, context):
    if isinstance(exc, RequestDataTooBig):
        return too_large_response(settings.API_MAX_BODY_BYTES)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    detail = response.data
    if isinstance(exc, exceptions.ValidationError):
        body = {"code": "invalid", "message": _summary(detail), "fields": detail}
    else:
        message = detail.get("detail", detail) if isinstance(detail, dict) else detail
        code = getattr(message, "code", None) or getattr(exc, "default_code", "error")
        body = {"code": str(code), "message": str(message)}
    return Response({"error": body}, status=response.status_code, headers=_headers(response))


def _headers(response: Response) -> dict[str, str]:
    return {k: v for k, v in response.items() if k.lower() in ("www-authenticate", "retry-after", "allow")}


def _summary(detail, prefix: str = "") -> str:
    """Every problem as 'field: what is wrong', nested ones by their path ('[2].amount')."""
    if isinstance(detail, dict):
        return "; ".join(
            _summary(errors, f"{prefix}.{field}" if prefix and not str(field).startswith("[") else f"{prefix}{field}")
            for field, errors in detail.items()
        )
    if isinstance(detail, list):
        if detail and all(isinstance(item, dict | list) for item in detail):  # one entry per row of a list
            return "; ".join(_summary(item, f"{prefix}[{i}]") for i, item in enumerate(detail) if item)
        said = " ".join(str(e) for e in detail)
        return f"{prefix}: {said}" if prefix else said
    return f"{prefix}: {detail}" if prefix else str(detail)


def api_not_found(request, exception=None):
    """JSON 404 under /api/ (unknown path or malformed id); Django's page elsewhere."""

    if request.path.startswith("/api/"):
        return JsonResponse({"error": {"code": "not_found", "message": f"No resource at {request.path}."}}, status=404)
    return page_not_found(request, exception)


def api_server_error(request):

    if request.path.startswith("/api/"):
        return JsonResponse(
            {
                "error": {
                    "code": "server_error",
                    "message": "Internal error; it was logged with this request's trace id.",
                }
            },
            status=500,
        )
    return server_error(request)
