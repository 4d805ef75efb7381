"""GET /metrics: Prometheus' text format, for a scraper on this machine or one holding the token.

Bound to an address by default (METRICS_ALLOWED_IPS, loopback only): a Prometheus on the same
machine or network scrapes it without a secret. With METRICS_TOKEN set, any address may scrape
with `Authorization: Bearer <token>` (Prometheus' `authorization` setting)."""

from __future__ import annotations

import hmac
import ipaddress

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from bmc.metrics import metrics_exposition


def _allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer ") and hmac.compare_digest(header[7:].strip(), token):
        return True
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in network for network in settings.METRICS_ALLOWED_NETWORKS)


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not _allowed(request):
        return JsonResponse(
            {
                "error": {
                    "code": "forbidden",
                    "message": "Metrics are served to the addresses in METRICS_ALLOWED_IPS, or with "
                    "'Authorization: Bearer <METRICS_TOKEN>'.",
                }
            },
            status=403,
        )
    body, content_type = metrics_exposition()
    return HttpResponse(body, content_type=content_type)
