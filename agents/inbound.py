"""Inbound customer messages: stored raw first, then parsed, idempotent on the provider's id."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from bmc.core.models import Channel, Conversation, Customer, InboundPayload, Message, Tenant

PHONE_RE = re.compile(r"^\+?[1-9]\d{6,14}$")


class InboundError(ValueError):
    """Input that cannot become a message: names the field and what is allowed."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class InboundMessage:
    message: Message
    created: bool  # False: the provider delivered this id before; nothing changed


def inbound_payload_store(*, tenant: Tenant, source: str, body: bytes | str, signature: str = "") -> InboundPayload:
    """First thing on every inbound request, before any parsing."""
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    return InboundPayload.objects.create(tenant=tenant, source=source, body=text, signature=signature[:200])


def inbound_payload_outcome(*, payload: InboundPayload, outcome: str, error: str = "") -> None:
    InboundPayload.objects.filter(pk=payload.pk).update(outcome=outcome, error=error[:4000])


def phone_normalize(value: Any) -> str:
    """E.164 with its '+'; WhatsApp sends the digits alone."""
    phone = re.sub(r"[\s\-()]", "", str(value or ""))
    if not PHONE_RE.match(phone):
        raise InboundError("from", f"'{value}' is not a phone number in international format, e.g. +59899123456.")
    return phone if phone.startswith("+") else f"+{phone}"


def timestamp_parse(value: Any, *, field: str = "sent_at") -> datetime:
    if value in (None, ""):
        return timezone.now()
    try:
        if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
            return datetime.fromtimestamp(int(value), tz=UTC)
        parsed = parse_datetime(str(value))
    except (ValueError, OverflowError, OSError):
        parsed = None
    if parsed is None:
        raise InboundError(field, f"'{value}' is not a date-time; use ISO 8601, e.g. 2026-11-21T10:30:00-03:00.")
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)


def inbound_message_accept(
    *,
    tenant: Tenant,
    channel: str,
    phone: str,
    text: str,
    external_id: str | None,
    sent_at: datetime,
    raw: dict[str, Any],
    name: str = "",
) -> InboundMessage:
    """The customer, their open conversation and the message; a repeated external id is a no-op."""
    if external_id and len(external_id) > 200:
        raise InboundError("external_id", f"is {len(external_id)} characters; at most 200.")
    if "\x00" in text:
        raise InboundError("text", "must not contain the NUL character.")
    if external_id:
        existing = Message.objects.filter(tenant=tenant, channel=channel, external_id=external_id).first()
        if existing:
            return InboundMessage(existing, created=False)
    try:
        with transaction.atomic():
            customer, _ = Customer.objects.get_or_create(tenant=tenant, phone=phone, defaults={"name": name[:200]})
            if name and not customer.name:
                Customer.objects.filter(pk=customer.pk).update(name=name[:200])
            conversation = (
                Conversation.objects.filter(tenant=tenant, customer=customer)
                .exclude(state=Conversation.State.CLOSED)
                .order_by("-created_at")
                .first()
            ) or Conversation.objects.create(tenant=tenant, customer=customer, channel=channel)
            message = Message.objects.create(
                tenant=tenant,
                conversation=conversation,
                direction=Message.Direction.INBOUND,
                channel=channel,
                external_id=external_id or None,
                raw_payload=raw,
                text=text,
                sent_at=sent_at,
                delivery_status=Message.DeliveryStatus.RECEIVED,
            )
            Conversation.objects.filter(pk=conversation.pk).update(last_message_at=timezone.now())
    except IntegrityError:
        # the same id delivered twice at the same moment: the other request stored it
        existing = Message.objects.get(tenant=tenant, channel=channel, external_id=external_id)
        return InboundMessage(existing, created=False)
    return InboundMessage(message, created=True)


CHANNELS = tuple(c.value for c in Channel)
