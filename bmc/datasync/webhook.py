"""Shopify's webhooks: stored raw first, checked against X-Shopify-Hmac-Sha256 (401 and kept when
it does not hold), then an order's topic handed to the data sync agent."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from agents.conversations.inbound import inbound_payload_outcome, inbound_payload_store
from agents.datasync.shopify import webhook_signature_problem
from bmc.conversations.models import InboundPayload
from bmc.core.services import tenant_ensure
from bmc.jobs.submit import task_submit

KEPT_HEADERS = ("x-shopify-topic", "x-shopify-shop-domain", "x-shopify-webhook-id", "x-shopify-api-version")
ORDER_TOPICS = ("orders/create", "orders/paid", "orders/updated", "orders/cancelled")


@csrf_exempt
@require_POST
def shopify_webhook_view(request: HttpRequest) -> HttpResponse:
    tenant = tenant_ensure()  # one shop: the default company's
    signature = request.headers.get("x-shopify-hmac-sha256", "")
    payload = inbound_payload_store(
        tenant=tenant, source=InboundPayload.Source.SHOPIFY, body=request.body, signature=signature
    )
    headers = {name: request.headers.get(name, "") for name in KEPT_HEADERS}
    InboundPayload.objects.filter(pk=payload.pk).update(headers=headers, source_address=request.META.get("REMOTE_ADDR"))
    problem = webhook_signature_problem(body=request.body, signature=signature)
    if problem:
        inbound_payload_outcome(payload=payload, outcome=InboundPayload.Outcome.REJECTED, error=problem)
        return JsonResponse({"error": {"code": "bad_signature", "message": problem}}, status=401)
    topic = headers["x-shopify-topic"]
    if topic not in ORDER_TOPICS:
        inbound_payload_outcome(payload=payload, outcome=InboundPayload.Outcome.IGNORED, error=f"topic {topic!r}")
        return JsonResponse({"received": True, "ignored": True})
    task_submit(
        tenant=tenant,
        task_type="datasync.shopify_order",
        payload={"payload_id": payload.pk},
        requested_by="shopify",
    )
    return JsonResponse({"received": True})
