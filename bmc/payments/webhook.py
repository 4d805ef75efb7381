"""Mercado Pago's notifications: stored raw first, checked against their x-signature (401 and
kept when it does not hold), then handed to the payment agent, which fetches the payment itself."""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from agents.conversations.inbound import inbound_payload_outcome, inbound_payload_store
from agents.payments.mercadopago import notification_signature_problem
from bmc.conversations.models import InboundPayload
from bmc.core.services import tenant_ensure
from bmc.jobs.submit import task_submit

# The headers an audit of a notification needs (its signature is checked with them).
KEPT_HEADERS = ("x-signature", "x-request-id", "content-type", "user-agent")


def _data_id(request: HttpRequest) -> str | None:
    """The payment's id: the query's `data.id`, which the signature covers (the body's if absent)."""
    if request.GET.get("data.id"):
        return request.GET["data.id"]
    try:
        return str((json.loads(request.body or b"{}").get("data") or {}).get("id") or "") or None
    except (ValueError, AttributeError):
        return None


@csrf_exempt
@require_POST
def mercadopago_webhook_view(request: HttpRequest) -> HttpResponse:
    tenant = tenant_ensure()  # one Mercado Pago account: the default company's
    payload = inbound_payload_store(
        tenant=tenant,
        source=InboundPayload.Source.MERCADOPAGO,
        body=request.body,
        signature=request.headers.get("x-signature", ""),
    )
    headers = {name: request.headers.get(name, "") for name in KEPT_HEADERS} | {
        "query": request.META.get("QUERY_STRING", "")
    }
    InboundPayload.objects.filter(pk=payload.pk).update(headers=headers, source_address=request.META.get("REMOTE_ADDR"))
    data_id = _data_id(request)
    problem = notification_signature_problem(
        x_signature=request.headers.get("x-signature"),
        x_request_id=request.headers.get("x-request-id"),
        data_id=data_id,
    )
    if problem:
        inbound_payload_outcome(payload=payload, outcome=InboundPayload.Outcome.REJECTED, error=problem)
        return JsonResponse({"error": {"code": "bad_signature", "message": problem}}, status=401)
    kind = request.GET.get("type") or request.GET.get("topic") or ""
    if kind != "payment" or not data_id:
        inbound_payload_outcome(
            payload=payload, outcome=InboundPayload.Outcome.IGNORED, error=f"not a payment: {kind!r}"
        )
        return JsonResponse({"received": True, "ignored": True})
    task_submit(
        tenant=tenant,
        task_type="payment.notification",
        payload={"payload_id": payload.pk, "payment_id": data_id},
        requested_by="mercadopago",
    )
    return JsonResponse({"received": True})
