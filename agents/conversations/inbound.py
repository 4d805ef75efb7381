"""Inbound customer messages: stored raw first, then parsed, idempotent on the provider's id."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext

from agents.conversations.plan import NO_TEXT_REPLIES
from agents.sales.followup import followups_stop
from agents.staff import staff_language
from bmc.conversations.models import Channel, Conversation, Customer, InboundPayload, Message
from bmc.core.limits import usage_count_on_commit, usage_over_limit
from bmc.core.models import Tenant
from bmc.jobs.backpressure import Hold
from bmc.jobs.models import AgentTask
from bmc.jobs.submit import task_send, task_submit
from bmc.metrics import INBOUND_MESSAGES

PHONE_RE = re.compile(r"^\+?[1-9][0-9]{6,14}$")
PHONE_SEPARATORS = re.compile(r"[\s()-]")
# RFC 3339: a date, 'T', a time and its offset; what every provider sends
RFC3339 = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)
UNIX_TIME_MAX = 253402300799  # 9999-12-31T23:59:59Z
# WhatsApp message types whose file the documents agent reads (an invoice, a receipt's photo)
MEDIA_READ = ("document", "image")


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
    turn: AgentTask | None = None  # the turn that answers it (inbound_message_receive only)


def inbound_turn_submit(
    *, tenant: Tenant, conversation_id: int, message_id: int, trace_id: str | None = None
) -> AgentTask:
    """A customer's message was stored: the conversation agent answers it. Over the company's
    messages of the day (only WhatsApp gets here then: Meta's deliveries are never refused) the
    turn is held until the quota starts again."""
    over = usage_over_limit(tenant=tenant, kind="messages")
    return task_submit(
        tenant=tenant,
        task_type="conversation.process_message",
        payload={"conversation_id": conversation_id, "message_id": message_id},
        priority="high",
        trace_id=trace_id,
        requested_by="inbound",
        hold=Hold(reason="quota", detail=over.message, until=over.resets_at) if over else None,
    )


def inbound_payload_store(*, tenant: Tenant, source: str, body: bytes | str, signature: str = "") -> InboundPayload:
    """First thing on every inbound request, before any parsing."""
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    # NUL cannot be stored as text (PostgreSQL): kept visible as U+FFFD, like any byte not UTF-8
    text = text.replace("\x00", "\ufffd")
    return InboundPayload.objects.create(tenant=tenant, source=source, body=text, signature=signature[:200])


# Headers of a refused delivery that an audit may read; secrets and cookies never.
_HEADERS_DROPPED = {"authorization", "cookie", "proxy-authorization"}


def inbound_refusal_store(
    *,
    tenant: Tenant,
    source: str,
    body: bytes,
    headers: dict[str, str],
    address: str | None,
    error: str,
    keep_bytes: int,
) -> InboundPayload:
    """A delivery refused before it is read (a bad signature): what an audit needs (its size, hash,
    headers, address and the first `keep_bytes`), not the whole of what anyone may send."""
    kept = {
        name[:100]: str(value)[:500]
        for name, value in list(headers.items())[:50]
        if name.lower() not in _HEADERS_DROPPED
    }
    return InboundPayload.objects.create(
        tenant=tenant,
        source=source,
        body=body[:keep_bytes].decode("utf-8", errors="replace").replace("\x00", "\ufffd"),
        signature=kept.get("X-Hub-Signature-256", "")[:200],
        outcome=InboundPayload.Outcome.REJECTED,
        error=error,
        size=len(body),
        sha256=hashlib.sha256(body).hexdigest(),
        headers=kept,
        source_address=address,
        truncated=len(body) > keep_bytes,
    )


def inbound_refusals_recent(*, address: str | None, since: datetime) -> int:
    """Deliveries from this address refused since then: past a limit, the next are not stored."""
    if not address:
        return 0
    return InboundPayload.objects.filter(
        source_address=address, outcome=InboundPayload.Outcome.REJECTED, received_at__gte=since
    ).count()


def inbound_payload_outcome(*, payload: InboundPayload, outcome: str, error: str = "") -> None:
    InboundPayload.objects.filter(pk=payload.pk).update(outcome=outcome, error=error[:4000])


def phone_normalize(value: Any) -> str:
    """E.164 with its '+'; WhatsApp sends the digits alone. Spaces, dashes and parentheses are
    ignored; anything else that is not a phone number (or not a string) is refused."""
    phone = PHONE_SEPARATORS.sub("", value) if isinstance(value, str) else ""
    if not PHONE_RE.match(phone):
        raise InboundError("from", f"'{value}' is not a phone number in international format, e.g. +59899123456.")
    return phone if phone.startswith("+") else f"+{phone}"


def rfc3339_parse(value: str) -> datetime | None:
    """An RFC 3339 date-time with its offset ('2026-11-21T10:30:00-03:00'), or None."""
    if not RFC3339.match(value):
        return None
    try:
        # in UTC: the database need not know offsets such as -17:23 (RFC 3339 allows up to 23:59)
        return datetime.fromisoformat(value.upper()).astimezone(UTC)
    except (ValueError, OverflowError):  # well formed, yet no such moment (February 30, year 9999 +14:00)
        return None


def timestamp_parse(value: Any, *, field: str = "sent_at") -> datetime:
    """An RFC 3339 date-time with its offset, or Unix seconds (a number, or its digits as a
    string). None or '' is now."""
    if value in (None, ""):
        return timezone.now()
    parsed = None
    try:
        if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= UNIX_TIME_MAX:
            parsed = datetime.fromtimestamp(int(value), tz=UTC)
        elif isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 11:
            parsed = datetime.fromtimestamp(int(value), tz=UTC)
        elif isinstance(value, str):
            parsed = rfc3339_parse(value)
    except (ValueError, OverflowError, OSError):
        parsed = None
    if parsed is None:
        raise InboundError(
            field,
            f"'{value}' is not a date-time; use RFC 3339 with its offset, e.g. 2026-11-21T10:30:00-03:00, or Unix "
            "seconds.",
        )
    return parsed


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
    """The customer, their open conversation and the message; a repeated external id is a no-op.
    Nothing is handed on: inbound_message_receive does that."""
    return _accept(tenant=tenant, name=name, hand_on=None, **_checked(channel, phone, text, external_id, sent_at, raw))


def inbound_message_receive(
    *,
    tenant: Tenant,
    channel: str,
    phone: str,
    text: str,
    external_id: str | None,
    sent_at: datetime,
    raw: dict[str, Any],
    name: str = "",
    payload: InboundPayload | None = None,
    trace_id: str | None = None,
) -> InboundMessage:
    """inbound_message_accept, and in the same transaction what follows a message: the outcome of
    its raw delivery (`payload`), its turn submitted (or, on a repeat, the turn it had), and a
    WhatsApp document or photo sent to the documents agent once this commits. A message is never
    stored without its turn, and the request commits once."""

    def hand_on(accepted: InboundMessage) -> AgentTask | None:
        return _hand_on(accepted, tenant=tenant, text=text, payload=payload, trace_id=trace_id)

    return _accept(
        tenant=tenant, name=name, hand_on=hand_on, **_checked(channel, phone, text, external_id, sent_at, raw)
    )


def _checked(channel, phone, text, external_id, sent_at, raw) -> dict[str, Any]:
    if external_id and len(external_id) > 200:
        raise InboundError("external_id", f"is {len(external_id)} characters; at most 200.")
    if "\x00" in text:
        raise InboundError("text", "must not contain the NUL character.")
    return dict(channel=channel, phone=phone, text=text, external_id=external_id, sent_at=sent_at, raw=raw)


def _accept(*, tenant: Tenant, name: str, hand_on, **fields) -> InboundMessage:
    """Two requests racing on the same id, or on a new customer's first messages, meet at a unique
    constraint: the loser runs again and finds what the winner stored."""
    try:
        return _accept_once(tenant=tenant, name=name, hand_on=hand_on, **fields)
    except IntegrityError:
        if transaction.get_connection().in_atomic_block:
            raise  # the caller's transaction is broken: it has to start over
        return _accept_once(tenant=tenant, name=name, hand_on=hand_on, **fields)


def _hand_on(
    accepted: InboundMessage, *, tenant: Tenant, text: str, payload: InboundPayload | None, trace_id: str | None
) -> AgentTask | None:
    message = accepted.message
    if not accepted.created:
        if payload is not None:
            inbound_payload_outcome(payload=payload, outcome=InboundPayload.Outcome.DUPLICATE)
        return AgentTask.objects.filter(
            tenant=tenant, task_type="conversation.process_message", payload__message_id=message.pk
        ).first()
    if payload is not None:
        inbound_payload_outcome(payload=payload, outcome=InboundPayload.Outcome.ACCEPTED)
    kind = (message.raw_payload or {}).get("type") if message.channel == Channel.WHATSAPP else None
    if kind in MEDIA_READ:
        transaction.on_commit(lambda: task_send("tasks.documents.whatsapp_media", message.pk))
    # a document or photo without a caption has nothing to answer; a voice note or a location has
    if not text and kind not in NO_TEXT_REPLIES:
        return None
    return inbound_turn_submit(
        tenant=tenant, conversation_id=message.conversation_id, message_id=message.pk, trace_id=trace_id
    )


def _accept_once(
    *, tenant: Tenant, channel: str, phone: str, text: str, external_id, sent_at, raw, name: str, hand_on
) -> InboundMessage:
    with transaction.atomic():
        existing = (
            Message.objects.filter(tenant=tenant, channel=channel, external_id=external_id).first()
            if external_id
            else None
        )
        if existing:
            accepted = InboundMessage(existing, created=False)
        else:
            now = timezone.now()
            conversation, new_customer = _open_conversation(
                tenant=tenant, phone=phone, channel=channel, name=name, now=now
            )
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
            if not new_customer:  # a customer created just now has nothing to follow up
                # the customer wrote: no follow-up goes after this (waits for one being sent right now)
                with staff_language():  # a webhook's or the API's request speaks English
                    reason = gettext("the customer wrote")
                followups_stop(customer_id=conversation.customer_id, reason=reason, steps_only=True)
            accepted = InboundMessage(message, created=True)
        if accepted.created:
            transaction.on_commit(INBOUND_MESSAGES.labels(channel).inc)
            usage_count_on_commit(tenant_id=tenant.pk, kind="messages")
        if hand_on is None:
            return accepted
        return InboundMessage(accepted.message, accepted.created, hand_on(accepted))


def _open_conversation(
    *, tenant: Tenant, phone: str, channel: str, name: str, now: datetime
) -> tuple[Conversation, bool]:
    """The customer's open conversation, touched; created (with the customer) when there is none.
    Two indexed lookups rather than a join, whose plan depends on fresh statistics. The flag: the
    customer is new."""
    # locked: a follow-up or a reminder being sent to this customer right now holds this row,
    # and this message is stored after it (see agents/sales/followup.py)
    customer = Customer.objects.select_for_update().filter(tenant=tenant, phone=phone).first()
    new = customer is None
    if new:  # a customer created just now has no conversation to look up
        customer = Customer.objects.create(tenant=tenant, phone=phone, name=name)
    else:
        if name and not customer.name:
            Customer.objects.filter(pk=customer.pk).update(name=name)
        open_ = Conversation.objects.filter(customer=customer).exclude(state=Conversation.State.CLOSED)
        conversation = open_.order_by("-created_at").first()
        if conversation:
            Conversation.objects.filter(pk=conversation.pk).update(last_message_at=now)
            conversation.customer = customer
            return conversation, False
    return Conversation.objects.create(tenant=tenant, customer=customer, channel=channel, last_message_at=now), new


CHANNELS = tuple(c.value for c in Channel)
