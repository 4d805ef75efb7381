"""Meta's WhatsApp Cloud API webhook: verification, signed deliveries of messages and statuses.

The raw body is stored before the signature is even checked (under the default company: which
company it is for is read from the body); a delivery is answered 200 fast and the work happens in
the agents. Meta retries, so every message id and status is idempotent. Each change goes to the
company that answers on the phone number it reached (`Tenant.whatsapp_phone_number_id`).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods
from rest_framework.exceptions import ParseError, ValidationError

from agents.conversations.inbound import (
    InboundError,
    inbound_message_receive,
    inbound_payload_outcome,
    inbound_payload_store,
    inbound_refusal_store,
    inbound_refusals_recent,
    phone_normalize,
    timestamp_parse,
)
from agents.outbound import outbound_status_apply
from bmc.api.parsers import json_body_parse
from bmc.conversations.models import InboundPayload
from bmc.core.models import Tenant
from bmc.core.services import tenant_ensure

logger = logging.getLogger(__name__)


def signature_valid(*, body: bytes, header: str, secret: str) -> bool:
    if not secret or not header.startswith("sha256="):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header.removeprefix("sha256="))


def _message_text(message: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The text a customer sent, whatever the message type; extra facts for the raw record."""
    kind = message.get("type")
    if kind == "text":
        return message.get("text", {}).get("body", ""), {}
    if kind == "interactive":
        interactive = message.get("interactive", {})
        reply = interactive.get("button_reply") or interactive.get("list_reply") or {}
        return reply.get("title", ""), {"reply_id": reply.get("id"), "context": message.get("context")}
    if kind == "button":
        return message.get("button", {}).get("text", ""), {"context": message.get("context")}
    if kind in ("document", "image"):
        media = message.get(kind, {})
        return media.get("caption", ""), {
            "media_id": media.get("id"),
            "filename": media.get("filename"),
            "mime_type": media.get("mime_type"),
        }
    return "", {"unsupported_type": kind}


def _refused(request: HttpRequest, *, tenant: Tenant, body: bytes) -> JsonResponse:
    """A delivery that is not Meta's: its audit record (not the whole body) and 401; past
    WEBHOOK_REFUSED_LIMIT refusals from one address within WEBHOOK_REFUSED_WINDOW seconds, 429 and
    nothing stored, so no one fills the disk by posting unsigned bodies."""
    address = request.META.get("REMOTE_ADDR") or None
    window = settings.WEBHOOK_REFUSED_WINDOW
    since = timezone.now() - timedelta(seconds=window)
    if inbound_refusals_recent(address=address, since=since) >= settings.WEBHOOK_REFUSED_LIMIT:
        logger.warning("unsigned webhook deliveries over the limit: not stored", extra={"address": address})
        response = JsonResponse(
            {
                "error": {
                    "code": "too_many_refused",
                    "message": f"Too many deliveries from {address} were refused for their signature; "
                    f"try again in {window} seconds.",
                }
            },
            status=429,
        )
        response["Retry-After"] = str(window)
        return response
    inbound_refusal_store(
        tenant=tenant,
        source=InboundPayload.Source.WHATSAPP,
        body=body,
        headers=dict(request.headers),
        address=address,
        error="bad signature",
        keep_bytes=settings.AUDIT_BODY_BYTES,
    )
    return JsonResponse(
        {
            "error": {
                "code": "bad_signature",
                "message": "X-Hub-Signature-256 is not the HMAC-SHA256 of the body with the app secret.",
            }
        },
        status=401,
    )


@csrf_exempt
@require_http_methods(["GET", "POST"])
def whatsapp_webhook_view(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        if (
            request.GET.get("hub.mode") == "subscribe"
            and settings.WHATSAPP_VERIFY_TOKEN
            and hmac.compare_digest(request.GET.get("hub.verify_token", ""), settings.WHATSAPP_VERIFY_TOKEN)
        ):
            return HttpResponse(request.GET.get("hub.challenge", ""), content_type="text/plain")
        return JsonResponse({"error": {"code": "forbidden", "message": "hub.verify_token does not match."}}, status=403)

    tenant = tenant_ensure()
    body = request.body
    header = request.headers.get("X-Hub-Signature-256", "")
    if not signature_valid(body=body, header=header, secret=settings.WHATSAPP_APP_SECRET):
        return _refused(request, tenant=tenant, body=body)
    payload = inbound_payload_store(tenant=tenant, source=InboundPayload.Source.WHATSAPP, body=body, signature=header)
    try:
        data = json_body_parse(body)
        changes = [c.get("value", {}) for e in data.get("entry", []) for c in e.get("changes", [])]
    except ValidationError as error:  # text that is not text, named by its path
        inbound_payload_outcome(payload=payload, outcome=InboundPayload.Outcome.REJECTED, error=str(error.detail))
        return JsonResponse(
            {"error": {"code": "invalid", "message": "Not a WhatsApp webhook body.", "fields": error.detail}},
            status=400,
        )
    except (ParseError, AttributeError, TypeError) as error:
        reason = error.detail if isinstance(error, ParseError) else error
        inbound_payload_outcome(payload=payload, outcome=InboundPayload.Outcome.REJECTED, error=str(reason))
        return JsonResponse(
            {"error": {"code": "invalid", "message": f"Not a WhatsApp webhook body: {reason}"}}, status=400
        )

    try:
        accepted, duplicates, statuses, ignored = _deliver(
            default=tenant, changes=changes, trace_id=getattr(request, "trace_id", None)
        )
    except (AttributeError, TypeError, KeyError) as error:  # signed by Meta, yet not the shape it documents
        inbound_payload_outcome(payload=payload, outcome=InboundPayload.Outcome.REJECTED, error=repr(error))
        return JsonResponse(
            {"error": {"code": "invalid", "message": f"Unexpected webhook shape: {error!r}"}}, status=400
        )
    duplicate_only = duplicates and not (accepted or statuses)
    outcome = InboundPayload.Outcome.DUPLICATE if duplicate_only else InboundPayload.Outcome.ACCEPTED
    if ignored and not (accepted or duplicates or statuses):
        outcome = InboundPayload.Outcome.IGNORED
    note = f"{ignored} message(s) or status(es) for a phone number no company here answers on" if ignored else ""
    inbound_payload_outcome(payload=payload, outcome=outcome, error=note)
    return JsonResponse({"accepted": accepted, "duplicates": duplicates, "statuses": statuses, "ignored": ignored})


def _number_reached(value: dict[str, Any]) -> str:
    """The company phone number a change was sent to (`metadata.phone_number_id`), or ''."""
    return str((value.get("metadata") or {}).get("phone_number_id") or "")


def _tenant_for(value: dict[str, Any], *, default: Tenant, numbers: dict[str, Tenant]) -> Tenant | None:
    """The company a change belongs to, by the phone number it reached (`metadata.phone_number_id`):
    the company that answers on that number; the default company for WHATSAPP_PHONE_NUMBER_ID, or for
    any number while none is configured; None for another number of the same Meta app."""
    number = _number_reached(value)
    if number in numbers:
        return numbers[number]
    if not number or not default.whatsapp_number or number == default.whatsapp_number:
        return default
    return None


def _deliver(*, default: Tenant, changes: list[dict[str, Any]], trace_id: str | None) -> tuple[int, int, int, int]:
    accepted, duplicates, statuses, ignored = 0, 0, 0, 0
    # the other companies' numbers reached, if any (the default company's needs no lookup; no other
    # company can take it)
    reached = {_number_reached(v) for v in changes} - {"", default.whatsapp_number}
    numbers = (
        {t.whatsapp_phone_number_id: t for t in Tenant.objects.filter(whatsapp_phone_number_id__in=reached)}
        if reached
        else {}
    )
    for value in changes:
        tenant = _tenant_for(value, default=default, numbers=numbers)
        if tenant is None:
            ignored += len(value.get("messages") or []) + len(value.get("statuses") or [])
            logger.warning(
                "whatsapp delivery for a phone number no company answers on",
                extra={"phone_number_id": _number_reached(value)},
            )
            continue
        names = {c.get("wa_id"): (c.get("profile") or {}).get("name", "") for c in value.get("contacts") or []}
        for message in value.get("messages", []):
            text, facts = _message_text(message)
            try:
                result = inbound_message_receive(
                    tenant=tenant,
                    channel="whatsapp",
                    phone=phone_normalize(message.get("from")),
                    text=text,
                    external_id=message.get("id"),
                    sent_at=timestamp_parse(message.get("timestamp"), field="timestamp"),
                    raw={**message, **({"bmc": facts} if facts else {})},
                    name=names.get(message.get("from"), ""),
                    trace_id=trace_id,
                )
            except InboundError as error:
                logger.warning("whatsapp message skipped", extra={"error": str(error)})
                continue
            if result.created:
                accepted += 1
            else:
                duplicates += 1
        for status in value.get("statuses", []):
            errors = status.get("errors") or [{}]
            statuses += outbound_status_apply(
                tenant=tenant,
                external_id=status.get("id", ""),
                status=status.get("status", ""),
                error_code=str(errors[0].get("code", "")) if status.get("status") == "failed" else "",
            )
    return accepted, duplicates, statuses, ignored
