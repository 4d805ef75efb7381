"""Outbound messages through a channel adapter, once per idempotency key.

A reply is a Message row (direction out, status pending) written before anything is sent. A
send claims the row (pending -> sending) with a conditional UPDATE, so a task that runs twice,
or two workers at once, send it once; a row left `sending` by a crashed worker is taken again
after OUTBOUND_SENDING_STALE seconds.

Adapters: `log` (the default: stored and logged), `n8n` (POST JSON to N8N_OUTBOUND_URL, signed
with HMAC-SHA256 of the body in X-BMC-Signature), `whatsapp` (Meta's Cloud API: text, a
document link, or the approved template when the 24-hour window is closed).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import requests
from django.conf import settings
from django.db import InterfaceError, OperationalError, close_old_connections, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext

from agents.staff import staff_language, staff_task_open
from bmc.breakers import N8N, WHATSAPP, BreakerOpen, breaker_guard
from bmc.conversations.models import Conversation, Message
from bmc.core.models import Tenant, tenant_get
from bmc.jobs.models import AgentTask
from bmc.jobs.submit import task_submit
from bmc.metrics import OUTBOUND_MESSAGES
from bmc.sales.models import StaffTask

logger = logging.getLogger(__name__)
Status = Message.DeliveryStatus
WINDOW = timedelta(hours=24)
REENGAGEMENT_ERROR = "131047"  # WhatsApp: the 24-hour window is closed, only a template may go
# Seconds a reply that went out waits for the database to record it (send_message's soft time
# limit is 30 s, OUTBOUND_TIMEOUT 10 of them): a restart or a failover is over by then.
SENT_RECORD_PATIENCE = 15


class TransientSendError(ConnectionError):
    """Worth a retry: timeouts, 429, 5xx. `retry_after` (seconds) when nothing was attempted
    because the service's circuit breaker is open: the retry waits until it lets a trial through."""

    def __init__(self, *args: Any, retry_after: float | None = None):
        super().__init__(*args)
        self.retry_after = retry_after


class PermanentSendError(ValueError):
    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code


@dataclass(frozen=True)
class SendResult:
    external_id: str


def outbound_send_submit(
    *, tenant: Tenant, message_ids: list[int], trace_id: str | None, requested_by: str, priority: str = "normal"
) -> list[AgentTask]:
    """Messages written (a turn's replies, a follow-up, a reminder): the outbound agent sends each
    one. Recorded in the caller's transaction, published once it commits."""
    return [
        task_submit(
            tenant=tenant,
            task_type="outbound.send_message",
            payload={"message_id": message_id},
            priority=priority,
            trace_id=trace_id,
            requested_by=requested_by,
        )
        for message_id in message_ids
    ]


def outbound_reply_create(
    *,
    conversation: Conversation,
    text: str,
    document_url: str = "",
    idempotency_key: str | None = None,
    extra: dict[str, Any] | None = None,
    new: bool = False,
    origin: tuple[str, int] | None = None,
) -> Message:
    """The outbound message, written before anything is sent; one per idempotency key.
    extra: what the send needs beyond the text (a WhatsApp template, the messages it answers).
    origin: (Message.Origin, id) of a message the agents write on their own initiative, which its
    agent's send guard checks once more before it goes.
    new: the caller made sure in its transaction that no message has this key (one INSERT
    instead of a lookup and a savepoint; the key's unique constraint still stands behind it)."""
    key = idempotency_key or f"reply-{uuid.uuid4().hex}"
    fields = {
        "tenant_id": conversation.tenant_id,
        "conversation": conversation,
        "direction": Message.Direction.OUTBOUND,
        "channel": settings.OUTBOUND_CHANNEL,
        "text": text,
        "raw_payload": {**({"document_url": document_url} if document_url else {}), **(extra or {})},
        "delivery_status": Status.PENDING,
        **({"origin": origin[0], "origin_id": origin[1]} if origin else {}),
    }
    if new:
        return Message.objects.create(idempotency_key=key, **fields)
    message, _ = Message.objects.get_or_create(idempotency_key=key, defaults=fields)
    return message


def outbound_staff_reply(*, conversation: Conversation, user, text: str) -> Message:
    """A reply a staff member wrote (the admin, the inbox's thread): the conversation becomes
    theirs if nobody had it, and the bot stays quiet; the message, marked with their username, is
    sent by the outbound agent as every reply is."""
    if conversation.state != Conversation.State.HANDOFF or conversation.assigned_to_id is None:
        conversation.state = Conversation.State.HANDOFF
        conversation.assigned_to = conversation.assigned_to or user
        conversation.save(update_fields=["state", "assigned_to"])
    message = outbound_reply_create(conversation=conversation, text=text, extra={"staff": user.get_username()})
    outbound_send_submit(
        tenant=conversation.tenant,
        message_ids=[message.pk],
        trace_id=f"admin-{user.pk}",
        requested_by="admin",
        priority="high",
    )
    return message


def outbound_send(*, tenant_id: int, message_id: int) -> str:
    """Send one pending outbound message of the tenant; returns its status after the attempt. A
    message of another tenant raises NotInTenant, and nothing is sent."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.OUTBOUND_SENDING_STALE)
    claimed = (
        Message.objects.filter(pk=message_id, tenant_id=tenant_id, direction=Message.Direction.OUTBOUND)
        .filter(Q(delivery_status=Status.PENDING) | Q(delivery_status=Status.SENDING, sent_at__lt=stale))
        .update(delivery_status=Status.SENDING, sent_at=now, send_attempts=F("send_attempts") + 1)
    )
    message = tenant_get(
        Message.objects.select_related("conversation__customer", "tenant").filter(direction=Message.Direction.OUTBOUND),
        tenant_id=tenant_id,
        pk=message_id,
    )
    if not claimed:
        return message.delivery_status  # sent already, or being sent right now
    customer = message.conversation.customer
    hold = _send_hold(message)
    if customer.opted_out and not message.raw_payload.get("opt_out_confirmation") and hold is None:
        _finish(message_id, Status.FAILED, error_code="opted_out")
        _count(message, "failed")
        return Status.FAILED
    adapter = ADAPTERS[message.channel if message.channel in ADAPTERS else "log"]
    try:
        # A message the agents sent on their own initiative (a follow-up, a reminder) goes out
        # holding its customer and its row locked, after a last check, so a customer's message
        # cannot slip in between that check and the send. Replies hold nothing.
        with transaction.atomic() if hold else nullcontext():
            if hold:
                withdrawn = hold.check(now)
                if withdrawn:
                    _finish(message_id, Status.CANCELLED, error_code="withdrawn")
                    _count(message, "withdrawn")
                    logger.info(
                        "message withdrawn before sending", extra={"message_id": message_id, "reason": withdrawn}
                    )
                    return Status.CANCELLED
            result = adapter(message)
            if hold:
                hold.sent(timezone.now())
            _sent_record(message_id, external_id=result.external_id, patience=0 if hold else SENT_RECORD_PATIENCE)
    except TransientSendError as error:
        # free for the retry; held back by a breaker, nothing was sent: not an attempt either
        not_tried = {"send_attempts": F("send_attempts") - 1} if error.retry_after is not None else {}
        Message.objects.filter(pk=message_id, delivery_status=Status.SENDING).update(
            delivery_status=Status.PENDING, **not_tried
        )
        _count(message, "retried")
        raise
    except PermanentSendError as error:
        _finish(message_id, Status.FAILED, error_code=error.code)
        _count(message, "failed")
        outbound_failed(message=message, error_code=error.code, detail=str(error))
        logger.warning("outbound send failed", extra={"message_id": message_id, "error": str(error)})
        return Status.FAILED
    _count(message, "sent")
    return Status.SENT


def _count(message: Message, outcome: str) -> None:
    OUTBOUND_MESSAGES.labels(message.channel or "log", message.origin or "reply", outcome).inc()


@dataclass(frozen=True)
class SendGuard:
    """What the agent behind a message of its own initiative says just before it goes, holding
    its customer and its row locked: `hold(origin_id, now)` is '' to go ahead, else why not;
    `sent` and `failed` let it record the outcome."""

    hold: Callable[[int, datetime], str]
    sent: Callable[[int, datetime], None] = lambda origin_id, now: None
    failed: Callable[[int, str], None] = lambda origin_id, reason: None


# Message.Origin -> its agent's guard; the agents register theirs when imported (the outbound
# worker imports them: tasks/outbound.py).
SEND_GUARDS: dict[str, SendGuard] = {}


def send_guard_register(origin: str, guard: SendGuard) -> None:
    SEND_GUARDS[origin] = guard


@dataclass(frozen=True)
class SendHold:
    check: Callable[[datetime], str]  # '' to go ahead, else why not
    sent: Callable[[datetime], None]


def _send_hold(message: Message) -> SendHold | None:
    """The last check of a message the agents wrote on their own initiative; None for replies."""
    if not message.origin:
        return None
    guard = _guard(message)
    return SendHold(
        check=lambda now: guard.hold(message.origin_id, now), sent=lambda now: guard.sent(message.origin_id, now)
    )


def _guard(message: Message) -> SendGuard:
    guard = SEND_GUARDS.get(message.origin)
    if guard is None:  # sending it unchecked could reach a customer who asked us to stop
        raise RuntimeError(f"no send guard registered for {message.origin} messages: import its agent first")
    return guard


def outbound_failed(*, message: Message, error_code: str, detail: str = "") -> None:
    """A message that will not reach the customer: its follow-up fails, and staff get a task to
    reach them another way: a reply that failed for good (`send_failed`), or any message refused
    because WhatsApp's 24-hour window is closed (131047, `reengage`). Written in the staff's
    language: a WhatsApp status webhook (an English request) may be what reports the failure."""
    with staff_language():
        error = f"{error_code} {detail}".strip()
        if message.origin:
            _guard(message).failed(message.origin_id, gettext("send failed: %(error)s") % {"error": error})
        customer = message.conversation.customer
        who = customer.name or customer.phone
        if error_code == REENGAGEMENT_ERROR:
            kind = StaffTask.Kind.REENGAGE
            title = gettext("Contact %(who)s: WhatsApp did not deliver the message") % {"who": who}
            detail = gettext(
                "More than 24 hours passed since the customer's last message and WhatsApp refused the send "
                "(131047). Call them or send them the approved template.\n\nMessage not delivered:\n%(text)s"
            ) % {"text": message.text}
        elif error_code != "opted_out" and not message.origin:
            kind = StaffTask.Kind.SEND_FAILED
            title = gettext("A message to %(who)s could not be sent") % {"who": who}
            detail = gettext("Error %(error)s. Message:\n%(text)s") % {"error": error, "text": message.text}
        else:
            return
    staff_task_open(
        tenant_id=message.tenant_id,
        kind=kind,
        dedupe_key=f"{kind}-{message.pk}",
        title=title,
        detail=detail,
        customer_id=customer.pk,
        conversation_id=message.conversation_id,
        message_id=message.pk,
    )


def _sent_record(message_id: int, *, external_id: str, patience: float) -> None:
    """The message went out: recorded sent, waiting up to `patience` seconds for a database that
    is away. Left `sending`, it would be sent again once stale (`make chaos` saw it: a reply sent
    twice when PostgreSQL went away between the send and this write). A follow-up's send holds
    a transaction, which cannot outlive its connection: its patience is 0."""
    deadline = time.monotonic() + patience
    while True:
        try:
            _finish(message_id, Status.SENT, external_id=external_id)
            return
        except (OperationalError, InterfaceError):
            if time.monotonic() >= deadline:
                raise
            logger.warning("a sent message waits for the database to record it", extra={"message_id": message_id})
            time.sleep(1)
            close_old_connections()  # the broken connection goes; the next write opens another


def _finish(message_id: int, status: str, *, external_id: str | None = None, error_code: str = "") -> None:
    fields: dict[str, Any] = {"delivery_status": status, "error_code": error_code}
    if external_id:
        fields["external_id"] = external_id
    Message.objects.filter(pk=message_id, delivery_status=Status.SENDING).update(**fields)


# --- adapters -----------------------------------------------------------------------------------


def _send_log(message: Message) -> SendResult:
    logger.info(
        "outbound message (log channel)",
        extra={"message_id": message.pk, "conversation_id": message.conversation_id, "chars": len(message.text)},
    )
    return SendResult(external_id=f"log-{message.pk}")


def signature_header(*, secret: str, body: bytes) -> str:
    """X-BMC-Signature of what this product POSTs to n8n: "sha256=" and the body's HMAC-SHA256."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def outbound_post(url: str, *, body: bytes, headers: dict[str, str], breaker: str | None = None) -> requests.Response:
    """POST to a receiver outside, within OUTBOUND_TIMEOUT: no answer, 429 or 5xx raise
    TransientSendError (a task retries it); any other answer is the caller's to read.
    `breaker`: the service's circuit breaker (bmc/breakers.py), which those failures open; while
    it is open nothing is posted and the TransientSendError carries `retry_after`. Receivers of
    their own (event subscriptions, suppliers' URLs) have none: one failing would stop the others."""
    if breaker is None:
        return _post(url, body=body, headers=headers)
    try:
        with breaker_guard(breaker, unwell=lambda error: isinstance(error, TransientSendError)):
            return _post(url, body=body, headers=headers)
    except BreakerOpen as error:
        raise TransientSendError(str(error), retry_after=error.retry_after) from error


def _post(url: str, *, body: bytes, headers: dict[str, str]) -> requests.Response:
    try:
        response = requests.post(url, data=body, headers=headers, timeout=settings.OUTBOUND_TIMEOUT)
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise TransientSendError(f"{url}: {exc}") from exc
    if response.status_code == 429 or response.status_code >= 500:
        raise TransientSendError(f"{url} answered {response.status_code}")
    return response


def _send_n8n(message: Message) -> SendResult:
    if not settings.N8N_OUTBOUND_URL:
        raise PermanentSendError("not_configured", "N8N_OUTBOUND_URL is not set")
    body = json.dumps(
        {
            "message_id": message.pk,
            "idempotency_key": message.idempotency_key,
            "conversation_id": message.conversation_id,
            "to": message.conversation.customer.phone,
            "text": message.text,
            "document_url": message.raw_payload.get("document_url", ""),
        }
    ).encode()
    response = outbound_post(
        settings.N8N_OUTBOUND_URL,
        breaker=N8N,
        body=body,
        headers={
            "Content-Type": "application/json",
            "X-BMC-Signature": signature_header(secret=settings.N8N_WEBHOOK_SECRET, body=body),
            "Idempotency-Key": message.idempotency_key or str(message.pk),
        },
    )
    if not response.ok:
        raise PermanentSendError(str(response.status_code), response.text[:300])
    return SendResult(external_id=f"n8n-{message.pk}")


def _window_open(message: Message) -> bool:
    last_inbound = (
        Message.objects.filter(conversation_id=message.conversation_id, direction=Message.Direction.INBOUND)
        .order_by("-created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    return bool(last_inbound and timezone.now() - last_inbound < WINDOW)


def _send_whatsapp(message: Message) -> SendResult:
    number = message.tenant.whatsapp_number  # never another company's
    if not (settings.WHATSAPP_TOKEN and number):
        raise PermanentSendError(
            "not_configured",
            "WHATSAPP_TOKEN and the company's WhatsApp number (WHATSAPP_PHONE_NUMBER_ID for the default company, "
            "Tenants → WhatsApp phone number id for the others) are not set",
        )
    to = message.conversation.customer.phone.lstrip("+")
    document_url = message.raw_payload.get("document_url", "")
    payload: dict[str, Any] = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to}
    if not _window_open(message):
        template = message.raw_payload.get("template") or {}
        payload |= {
            "type": "template",
            "template": {
                "name": template.get("name") or settings.WHATSAPP_TEMPLATE_NAME,
                "language": {"code": template.get("language") or settings.WHATSAPP_TEMPLATE_LANGUAGE},
                **(
                    {
                        "components": [
                            {
                                "type": "body",
                                "parameters": [{"type": "text", "text": str(p)} for p in template["params"]],
                            }
                        ]
                    }
                    if template.get("params")
                    else {}
                ),
            },
        }
    elif document_url:
        payload |= {
            "type": "document",
            "document": {"link": document_url, "caption": message.text[:1024], "filename": "cotizacion.pdf"},
        }
    else:
        payload |= {"type": "text", "text": {"body": message.text[:4096], "preview_url": True}}
    url = f"{settings.WHATSAPP_API_BASE.rstrip('/')}/{number}/messages"
    response = outbound_post(
        url,
        breaker=WHATSAPP,
        body=json.dumps(payload).encode(),
        headers={"Authorization": f"Bearer {settings.WHATSAPP_TOKEN}", "Content-Type": "application/json"},
    )
    data = response.json() if response.content else {}
    if not response.ok:
        error = data.get("error", {}) if isinstance(data, dict) else {}
        raise PermanentSendError(
            str(error.get("code", response.status_code)), error.get("message", response.text[:300])
        )
    return SendResult(external_id=data["messages"][0]["id"])


ADAPTERS = {"log": _send_log, "n8n": _send_n8n, "whatsapp": _send_whatsapp}


STATUS_RANK = {Status.PENDING: 0, Status.SENDING: 1, Status.SENT: 2, Status.DELIVERED: 3, Status.READ: 4}


def outbound_status_apply(*, tenant, external_id: str, status: str, error_code: str = "") -> int:
    """A provider's delivery status: moves forward only (read never goes back to delivered);
    `failed` is final and keeps its error code. Returns 1 when the message changed."""
    if status == Status.FAILED:
        changed = (
            Message.objects.filter(tenant=tenant, external_id=external_id, direction=Message.Direction.OUTBOUND)
            .exclude(delivery_status=Status.FAILED)
            .update(delivery_status=Status.FAILED, error_code=error_code[:40])
        )
        if changed:
            for message in Message.objects.filter(tenant=tenant, external_id=external_id).select_related(
                "conversation__customer"
            ):
                outbound_failed(message=message, error_code=error_code)
        return changed
    if status not in STATUS_RANK:
        return 0
    earlier = [s for s, rank in STATUS_RANK.items() if rank < STATUS_RANK[status]]
    return Message.objects.filter(
        tenant=tenant, external_id=external_id, direction=Message.Direction.OUTBOUND, delivery_status__in=earlier
    ).update(delivery_status=status)
