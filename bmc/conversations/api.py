"""Inbound messages (n8n, chat API), conversations. Every body is stored raw before parsing."""

from __future__ import annotations

import time
import uuid
from typing import Any

from django.conf import settings
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import api_view
from rest_framework.exceptions import ParseError
from rest_framework.request import Request
from rest_framework.response import Response

from agents.conversations.inbound import (
    CHANNELS,
    InboundError,
    inbound_message_receive,
    inbound_payload_outcome,
    inbound_payload_store,
    phone_normalize,
    timestamp_parse,
)
from agents.nlu.model import message_understand
from agents.quotes.document import quote_public_path
from bmc.api.limits import QuotaExceeded
from bmc.api.lists import ListQuery, assigned_filter, page_response, page_schema
from bmc.api.parsers import json_body_parse
from bmc.api.responses import CONVERSATION_SUMMARY, ChatAnswered, ChatCancelled, ChatWaiting, ConversationOut
from bmc.api.schema import ExternalIdField, MessageTextField, NameField, PhoneField, SentAtField
from bmc.conversations.models import Conversation, InboundPayload, Message
from bmc.conversations.queries import conversations_with_last_message
from bmc.core.limits import usage_over_limit
from bmc.jobs.api import task_cancel_or_conflict
from bmc.jobs.models import AgentTask
from bmc.quotes.api import public_url

MAX_TEXT = 4096
MAX_EXTERNAL_ID = 200  # Message.external_id
MAX_NAME = 200  # Customer.name


def _body(request: Request, payload: InboundPayload) -> dict[str, Any]:
    try:
        data = json_body_parse(request._request.body or b"{}")
    except ParseError as error:
        inbound_payload_outcome(payload=payload, outcome=InboundPayload.Outcome.REJECTED, error=str(error.detail))
        raise serializers.ValidationError({"body": [str(error.detail)]}) from None
    except serializers.ValidationError as error:
        raise _reject_all(payload, error.detail) from None
    if not isinstance(data, dict):
        inbound_payload_outcome(payload=payload, outcome=InboundPayload.Outcome.REJECTED, error="not an object")
        raise serializers.ValidationError({"body": ["The body must be a JSON object."]})
    return data


def _reject(payload: InboundPayload, field: str, message: str):
    return _reject_all(payload, {field: [message]})


def _reject_all(payload: InboundPayload, problems: dict[str, list[str]]):
    """The body is refused for these fields: recorded with the raw payload, and the 400 to raise."""
    error = "; ".join(f"{field}: {says[0]}" for field, says in problems.items())
    inbound_payload_outcome(payload=payload, outcome=InboundPayload.Outcome.REJECTED, error=error)
    return serializers.ValidationError(problems)


def _text_problem(text: Any) -> str:
    if text is not None and not isinstance(text, str):
        return f"must be a string (the message text), got {type(text).__name__}."
    if not text or not text.strip():
        return "is required: the message text, a non-empty string."
    if len(text) > MAX_TEXT:
        return f"is {len(text)} characters; at most {MAX_TEXT}."
    return ""


def _external_id_problem(value: Any) -> str:
    if value == "":
        return "must not be empty: the provider's id of the message, or leave it out."
    if isinstance(value, bool) or not isinstance(value, str | int):
        return "must be a string (or a whole number): the provider's id of the message."
    if isinstance(value, str) and len(value) > MAX_EXTERNAL_ID:
        return f"is {len(value)} characters; at most {MAX_EXTERNAL_ID}."
    return ""


def _name_problem(value: Any) -> str:
    if not isinstance(value, str):
        return "must be a string: the customer's name."
    if len(value) > MAX_NAME:
        return f"is {len(value)} characters; at most {MAX_NAME}."
    return ""


def _raises(check) -> str:
    try:
        check()
    except InboundError as error:
        return error.message
    return ""


PHONE_REQUIRED = "is required: the customer's phone number, e.g. +59899123456."
SENT_AT_REQUIRED = (
    "is required: when the customer sent it, RFC 3339 with its offset (2026-11-21T10:00:00-03:00) or Unix seconds."
)
SENT_AT_EMPTY = "must not be empty: a date-time or Unix seconds, or leave it out (it is then now)."
# What each field of an inbound body is, and what to say when it is missing or wrong.
ROLES = {
    "channel": (
        f"is required: one of {', '.join(CHANNELS)}.",
        lambda v: "" if v in CHANNELS else f"'{v}' is not a channel; use one of {', '.join(CHANNELS)}.",
    ),
    "text": ("is required: the message text, a non-empty string.", _text_problem),
    "phone": (PHONE_REQUIRED, lambda v: _raises(lambda: phone_normalize(v))),
    "external_id": (
        "is required: the provider's id of the message (a second delivery with the same id changes nothing).",
        _external_id_problem,
    ),
    "sent_at": (SENT_AT_REQUIRED, lambda v: _raises(lambda: timestamp_parse(v)) if v != "" else SENT_AT_EMPTY),
    "name": ("", _name_problem),
}
# POST /api/v1/messages: field -> (role, required)
MESSAGE_FIELDS = {
    "channel": ("channel", True),
    "from": ("phone", True),
    "text": ("text", True),
    "external_id": ("external_id", True),
    "sent_at": ("sent_at", True),
    "name": ("name", False),
}
# the chat endpoints, for n8n flows in Spanish
CHAT_FIELDS = {
    "mensaje": ("text", True),
    "telefono": ("phone", True),
    "id": ("external_id", False),
    "fecha": ("sent_at", False),
    "nombre": ("name", False),
}


def _problems(data: dict[str, Any], fields: dict[str, tuple[str, bool]]) -> dict[str, list[str]]:
    """Every field of the body that is missing or wrong, all told at once. A required field that is
    null or "" is missing; an optional one that is null is absent."""
    problems: dict[str, list[str]] = {}
    for field, (role, required) in fields.items():
        value = data.get(field)
        missing_says, check = ROLES[role]
        if value is None or (required and value == ""):
            if required:
                problems[field] = [missing_says]
            continue
        problem = check(value)
        if problem:
            problems[field] = [problem]
    return problems


def _accept(
    request: Request,
    *,
    payload: InboundPayload,
    channel: str,
    phone: Any,
    text: str,
    external_id: Any,
    sent_at: Any,
    name: Any,
    raw: dict[str, Any],
    field_names: dict[str, str] | None = None,
) -> tuple[Message, AgentTask | None, bool]:
    """field_names: how this endpoint calls the fields, for its error messages. Over the tier's
    messages of the day: 429, the raw body kept as refused."""
    over = usage_over_limit(tenant=request.tenant, kind="messages")
    if over is not None:
        inbound_payload_outcome(payload=payload, outcome=InboundPayload.Outcome.REJECTED, error=over.message)
        raise QuotaExceeded(wait=over.retry_after, detail=over.message)
    try:
        accepted = inbound_message_receive(
            tenant=request.tenant,
            channel=channel,
            phone=phone_normalize(phone),
            text=text,
            external_id=str(external_id) if external_id not in (None, "") else None,
            sent_at=timestamp_parse(sent_at),
            raw=raw,
            name=name or "",
            payload=payload,
            trace_id=request._request.trace_id,
        )
    except InboundError as error:
        raise _reject(payload, (field_names or {}).get(error.field, error.field), error.message) from None
    return accepted.message, accepted.turn, accepted.created


MessageIn = inline_serializer(
    "MessageIn",
    {
        "channel": serializers.ChoiceField(choices=CHANNELS),
        "from": PhoneField(help_text="The customer's phone."),
        "text": MessageTextField(),
        "external_id": ExternalIdField(),
        "sent_at": SentAtField(),
        "name": NameField(required=False),
    },
)
MessageAccepted = inline_serializer(
    "MessageAccepted",
    {
        "message_id": serializers.IntegerField(),
        "conversation_id": serializers.IntegerField(),
        "task_id": serializers.UUIDField(allow_null=True),
        "duplicate": serializers.BooleanField(),
        "queued": serializers.BooleanField(
            help_text="False: stored and waiting, for the broker to come back or (held) for its queue to drain."
        ),
        "held": serializers.BooleanField(
            help_text="True: stored, and held because the agents' queue is over its limit; answered as it drains."
        ),
        "detail": serializers.CharField(required=False, help_text="Only when not queued: what happens next."),
    },
)


@extend_schema(
    tags=["messages"],
    request=MessageIn,
    responses={
        202: MessageAccepted,
        200: OpenApiResponse(MessageAccepted, description="Same external_id delivered again: nothing changed."),
        400: OpenApiResponse(description="Which field is wrong and what is allowed; the raw body is kept."),
    },
)
@api_view(["POST"])
def messages_view(request: Request) -> Response:
    payload = inbound_payload_store(tenant=request.tenant, source=InboundPayload.Source.N8N, body=request._request.body)
    data = _body(request, payload)
    problems = _problems(data, MESSAGE_FIELDS)
    if problems:
        raise _reject_all(payload, problems)
    message, task, created = _accept(
        request,
        payload=payload,
        channel=data["channel"],
        phone=data["from"],
        text=data["text"],
        external_id=data.get("external_id"),
        sent_at=data.get("sent_at"),
        name=data.get("name"),
        raw=data,
    )
    return _accepted_response(message, task, created)


NOT_QUEUED = (
    "Stored, but the broker is unavailable: it is answered once the broker is back (the task record "
    "keeps it waiting). Do not send it again."
)


def _accepted_response(message: Message, task: AgentTask | None, created: bool) -> Response:
    """What /messages and /chat/send answer: 202 for a new message (200 for the same one again),
    saying whether its work reached the queue or waits, stored, for the broker."""
    held = task is not None and task.status == AgentTask.Status.HELD
    queued = task is not None and task.status not in (AgentTask.Status.PENDING, AgentTask.Status.HELD)
    body = {
        "message_id": message.pk,
        "conversation_id": message.conversation_id,
        "task_id": str(task.task_id) if task else None,
        "duplicate": not created,
        "queued": queued,
        "held": held,
    }
    if held:
        body["detail"] = (task.metadata.get("held") or {}).get("detail") or NOT_QUEUED
    elif not queued:
        body["detail"] = NOT_QUEUED
    return Response(body, status=status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK)


def _reply_after(message: Message) -> Message | None:
    """The reply of the turn that answered this message (a turn records the range of inbound
    messages it answers): never a follow-up or a reminder that happened to go out meanwhile."""
    return (
        Message.objects.filter(
            conversation_id=message.conversation_id,
            direction=Message.Direction.OUTBOUND,
            raw_payload__answers__0__lte=message.pk,
            raw_payload__answers__1__gte=message.pk,
        )
        .order_by("created_at")
        .first()
    )


ChatIn = inline_serializer(
    "ChatIn",
    {
        "mensaje": MessageTextField(),
        "telefono": PhoneField(help_text="The customer's phone."),
        "id": ExternalIdField(required=False),
        "fecha": SentAtField(required=False),
        "nombre": NameField(required=False),
    },
)


@extend_schema(
    tags=["chat"],
    request=ChatIn,
    responses={
        200: OpenApiResponse(ChatAnswered, description="The reply."),
        202: OpenApiResponse(
            ChatWaiting,
            description="Not answered within the wait (poll /api/v1/chat/status with task_id), or stored while the "
            "broker is down.",
        ),
    },
)
@api_view(["POST"])
def chat_process_view(request: Request) -> Response:
    """For n8n flows that want the answer in the same call: waits up to CHAT_PROCESS_WAIT seconds."""
    message, task, created = _chat_accept(request)
    waiting = task is not None and task.status == AgentTask.Status.PENDING  # the broker is down
    deadline = time.monotonic() + (0 if waiting else settings.CHAT_PROCESS_WAIT)
    reply = _reply_after(message)
    while reply is None and time.monotonic() < deadline:
        time.sleep(0.05)
        reply = _reply_after(message)
    body = {
        "conversation_id": message.conversation_id,
        "message_id": message.pk,
        "task_id": str(task.task_id) if task else None,
    }
    if reply is None and waiting:
        return Response(
            {**body, "status": "stored", "respuesta": None, "detail": NOT_QUEUED}, status=status.HTTP_202_ACCEPTED
        )
    if reply is None:
        return Response({**body, "status": "processing", "respuesta": None}, status=status.HTTP_202_ACCEPTED)
    return Response(
        {
            **body,
            "status": "answered",
            "respuesta": reply.text,
            "documento": reply.raw_payload.get("document_url") or None,
        }
    )


def _chat_accept(request: Request) -> tuple[Message, AgentTask | None, bool]:
    payload = inbound_payload_store(
        tenant=request.tenant, source=InboundPayload.Source.CHAT, body=request._request.body
    )
    data = _body(request, payload)
    problems = _problems(data, CHAT_FIELDS)
    if problems:
        raise _reject_all(payload, problems)
    return _accept(
        request,
        payload=payload,
        channel="n8n",
        phone=data["telefono"],
        text=data["mensaje"],
        external_id=data.get("id"),
        sent_at=data.get("fecha"),
        name=data.get("nombre"),
        raw=data,
        field_names={"from": "telefono", "sent_at": "fecha", "text": "mensaje"},
    )


@extend_schema(
    tags=["chat"],
    request=ChatIn,
    responses={
        202: MessageAccepted,
        200: OpenApiResponse(MessageAccepted, description="Same id delivered again: nothing changed."),
    },
)
@api_view(["POST"])
def chat_send_view(request: Request) -> Response:
    message, task, created = _chat_accept(request)
    return _accepted_response(message, task, created)


def _chat_task(request: Request, task_id: Any) -> AgentTask:
    return get_object_or_404(
        AgentTask, tenant=request.tenant, task_id=task_id, task_type="conversation.process_message"
    )


@extend_schema(
    tags=["chat"],
    request=inline_serializer("ChatStatusIn", {"task_id": serializers.UUIDField()}),
    responses={
        200: inline_serializer(
            "ChatStatus",
            {
                "task_id": serializers.UUIDField(),
                "status": serializers.ChoiceField(choices=AgentTask.Status.choices),
                "respuesta": serializers.CharField(allow_null=True, help_text="The reply, once there is one."),
                "documento": serializers.URLField(allow_null=True, help_text="The quote's PDF, if the reply has one."),
            },
        ),
        404: OpenApiResponse(description="No turn of this tenant has this task_id."),
    },
)
@api_view(["POST"])
def chat_status_view(request: Request) -> Response:
    task_id = request.data.get("task_id") if isinstance(request.data, dict) else None
    try:
        task_id = uuid.UUID(str(task_id))
    except ValueError:
        raise serializers.ValidationError({"task_id": ["A task_id from /api/v1/chat/send is required."]}) from None
    task = _chat_task(request, task_id)
    message = Message.objects.get(pk=task.payload["message_id"])
    reply = _reply_after(message)
    return Response(
        {
            "task_id": str(task.task_id),
            "status": task.status,
            "respuesta": reply.text if reply else None,
            "documento": (reply.raw_payload.get("document_url") or None) if reply else None,
        }
    )


@extend_schema(
    tags=["chat"],
    request=None,
    responses={
        200: ChatCancelled,
        409: OpenApiResponse(description="Already finished."),
    },
)
@api_view(["POST"])
def chat_cancel_view(request: Request, task_id) -> Response:
    task = _chat_task(request, task_id)
    return task_cancel_or_conflict(task) or Response({"task_id": str(task.task_id), "status": "cancelled"})


def conversation_payload(conversation: Conversation) -> dict[str, Any]:
    customer = conversation.customer
    return {
        "id": conversation.pk,
        "state": conversation.state,
        "channel": conversation.channel,
        "customer": {
            "id": customer.pk,
            "phone": customer.phone,
            "name": customer.name,
            "opted_out": customer.opted_out,
        },
        "dialogue": conversation.dialogue,
        "messages": [
            {
                "id": m.pk,
                "direction": m.direction,
                "channel": m.channel,
                "text": m.text,
                "intent": m.intent or None,
                "entities": m.entities,
                "delivery_status": m.delivery_status,
                "external_id": m.external_id,
                "document_url": m.raw_payload.get("document_url") if m.direction == "out" else None,
                "created_at": m.created_at.isoformat(),
            }
            for m in conversation.messages.all()
        ],
        "quotes": [
            {
                "id": q.pk,
                "number": q.number,
                "status": q.status,
                "total": str(q.total),
                "pdf_url": public_url(quote_public_path(q)),
            }
            for q in conversation.quotes.order_by("created_at")
        ],
        "orders": [
            {
                "id": o.pk,
                "number": o.number,
                "status": o.status,
                "total": str(o.total),
                "payment_url": o.payment_url or None,
            }
            for o in conversation.orders.order_by("created_at")
        ],
    }


class ConversationQuery(ListQuery):
    state = serializers.ChoiceField(
        choices=Conversation.State.choices,
        required=False,
        allow_blank=True,
        help_text="Only in this state (empty: any).",
    )
    needs_reply = serializers.BooleanField(
        required=False, allow_null=True, default=None, help_text="Only those a person owes an answer (or not)."
    )


def conversation_summary(conversation: Conversation) -> dict[str, Any]:
    customer = conversation.customer
    return {
        "id": conversation.pk,
        "state": conversation.state,
        "channel": conversation.channel,
        "customer": {
            "id": customer.pk,
            "phone": customer.phone,
            "name": customer.name,
            "opted_out": customer.opted_out,
        },
        "assigned_to": conversation.assigned_to.get_username() if conversation.assigned_to else None,
        "needs_reply": conversation.needs_reply,
        "last_message": {
            "id": conversation.last_message_id,
            "direction": conversation.last_direction,
            "text": conversation.last_text,
        }
        if conversation.last_message_id
        else None,
        "last_message_at": conversation.last_message_at.isoformat() if conversation.last_message_at else None,
        "created_at": conversation.created_at.isoformat(),
    }


@extend_schema(
    tags=["messages"],
    parameters=[ConversationQuery],
    responses={200: page_schema("ConversationSummary", CONVERSATION_SUMMARY)},
)
@api_view(["GET"])
def conversations_view(request: Request) -> Response:
    """The company's conversations, newest first, a page at a time (`next` walks on): filtered by
    `state`, `customer`, `since` (a message at or after it), `assigned` (a username, or `none`) and
    `needs_reply` (with staff, the customer's word last)."""
    query = ConversationQuery(data=request.query_params)
    query.is_valid(raise_exception=True)
    wanted = query.validated_data
    conversations = conversations_with_last_message(
        Conversation.objects.filter(tenant=request.tenant).select_related("customer", "assigned_to")
    ).filter(**assigned_filter(wanted.get("assigned"), "assigned_to"))
    if wanted.get("state"):
        conversations = conversations.filter(state=wanted["state"])
    if wanted.get("customer"):
        conversations = conversations.filter(customer_id=wanted["customer"])
    if wanted.get("since"):
        conversations = conversations.filter(last_message_at__gte=wanted["since"])
    if wanted.get("needs_reply") is not None:
        conversations = conversations.filter(needs_reply=wanted["needs_reply"])
    return page_response(request, conversations, conversation_summary)


@extend_schema(
    tags=["messages"],
    responses={200: OpenApiResponse(ConversationOut, description="Customer, state, messages in and out, quotes.")},
)
@api_view(["GET"])
def conversation_detail_view(request: Request, conversation_id: int) -> Response:
    conversation = get_object_or_404(
        Conversation.objects.select_related("customer"), tenant=request.tenant, pk=conversation_id
    )
    return Response(conversation_payload(conversation))


NluIn = inline_serializer("NluIn", {"text": MessageTextField(), "sent_at": SentAtField(required=False)})
NluOut = inline_serializer(
    "NluOut",
    {"intent": serializers.CharField(), "confidence": serializers.FloatField(), "entities": serializers.DictField()},
)


@extend_schema(tags=["messages"], request=NluIn, responses={200: NluOut})
@api_view(["POST"])
def nlu_parse_view(request: Request) -> Response:
    """Intent and entities of one message, as the conversation agent reads it."""

    if not isinstance(request.data, dict):
        raise serializers.ValidationError({"body": ["The body must be a JSON object: {text, sent_at?}."]})
    problems = _problems(request.data, {"text": ("text", True), "sent_at": ("sent_at", False)})
    if problems:
        raise serializers.ValidationError(problems)
    text, sent_at = request.data["text"], timestamp_parse(request.data.get("sent_at"))
    result = message_understand(text=text, sent_at=sent_at, tenant_id=request.tenant.pk)
    return Response({"intent": result["intent"], "confidence": result["confidence"], "entities": result["entities"]})
