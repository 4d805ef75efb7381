"""The shapes of the API's answers that are built by hand (conversations, quotes, batches, chat),
declared for the OpenAPI schema; tests/api/test_response_schemas.py checks real answers against
them."""

from __future__ import annotations

from drf_spectacular.utils import inline_serializer
from rest_framework import serializers

from bmc.conversations.models import Conversation, Message
from bmc.documents.models import Document, DocumentBatch
from bmc.jobs.models import AgentTask
from bmc.orders.models import Order
from bmc.quotes.models import Quote


def _free_object(**kwargs) -> serializers.JSONField:
    return serializers.JSONField(**kwargs)


CustomerOut = inline_serializer(
    "ConversationCustomer",
    {
        "id": serializers.IntegerField(),
        "phone": serializers.CharField(),
        "name": serializers.CharField(allow_blank=True),
        "opted_out": serializers.BooleanField(),
    },
)

ConversationOut = inline_serializer(
    "Conversation",
    {
        "id": serializers.IntegerField(),
        "state": serializers.ChoiceField(choices=Conversation.State.choices),
        "channel": serializers.CharField(),
        "customer": CustomerOut,
        "dialogue": _free_object(help_text="What the bot keeps of the conversation: the spec asked for, and more."),
        "messages": inline_serializer(
            "ConversationMessage",
            {
                "id": serializers.IntegerField(),
                "direction": serializers.ChoiceField(choices=Message.Direction.choices),
                "channel": serializers.CharField(),
                "text": serializers.CharField(allow_blank=True),
                "intent": serializers.CharField(allow_null=True),
                "entities": _free_object(),
                "delivery_status": serializers.ChoiceField(choices=Message.DeliveryStatus.choices),
                "external_id": serializers.CharField(allow_null=True),
                "document_url": serializers.URLField(allow_null=True),
                "created_at": serializers.DateTimeField(),
            },
            many=True,
        ),
        "quotes": inline_serializer(
            "ConversationQuote",
            {
                "id": serializers.IntegerField(),
                "number": serializers.CharField(),
                "status": serializers.ChoiceField(choices=Quote.Status.choices),
                "total": serializers.CharField(),
                "pdf_url": serializers.URLField(),
            },
            many=True,
        ),
        "orders": inline_serializer(
            "ConversationOrder",
            {
                "id": serializers.IntegerField(),
                "number": serializers.CharField(),
                "status": serializers.ChoiceField(choices=Order.Status.choices),
                "total": serializers.CharField(),
                "payment_url": serializers.URLField(allow_null=True),
            },
            many=True,
        ),
    },
)

CONVERSATION_SUMMARY = {
    "id": serializers.IntegerField(),
    "state": serializers.ChoiceField(choices=Conversation.State.choices),
    "channel": serializers.CharField(),
    "customer": CustomerOut,
    "assigned_to": serializers.CharField(allow_null=True, help_text="The staff user's username."),
    "needs_reply": serializers.BooleanField(help_text="With staff, and the customer's word is the last."),
    "last_message": inline_serializer(
        "ConversationLastMessage",
        {
            "id": serializers.IntegerField(),
            "direction": serializers.ChoiceField(choices=Message.Direction.choices),
            "text": serializers.CharField(allow_blank=True),
        },
        allow_null=True,
    ),
    "last_message_at": serializers.DateTimeField(allow_null=True),
    "created_at": serializers.DateTimeField(),
}

QUOTE = {
    "id": serializers.IntegerField(),
    "number": serializers.CharField(),
    "status": serializers.ChoiceField(choices=Quote.Status.choices),
    "customer": inline_serializer(
        "QuoteCustomer",
        {"id": serializers.IntegerField(), "phone": serializers.CharField(), "name": serializers.CharField()},
        allow_null=True,
    ),
    "conversation_id": serializers.IntegerField(allow_null=True),
    "spec": _free_object(help_text="The spec priced, as QUOTING.md names its fields."),
    "lines": inline_serializer(
        "QuoteLine",
        {
            "sku": serializers.CharField(),
            "description": serializers.CharField(),
            "quantity": serializers.CharField(),
            "unit": serializers.CharField(),
            "unit_price": serializers.CharField(),
            "amount": serializers.CharField(),
        },
        many=True,
    ),
    "subtotal": serializers.CharField(),
    "iva": serializers.CharField(),
    "total": serializers.CharField(),
    "currency": serializers.CharField(),
    "estimate": serializers.BooleanField(),
    "requires_approval": serializers.BooleanField(),
    "catalog_version": serializers.IntegerField(),
    "valid_until": serializers.DateField(),
    "pdf_url": serializers.URLField(),
    "created_at": serializers.DateTimeField(),
}
QuoteOut = inline_serializer("Quote", QUOTE)

_CHAT = {
    "conversation_id": serializers.IntegerField(),
    "message_id": serializers.IntegerField(),
    "task_id": serializers.UUIDField(allow_null=True),
}
ChatAnswered = inline_serializer(
    "ChatAnswered",
    {
        **_CHAT,
        "status": serializers.ChoiceField(choices=["answered"]),
        "respuesta": serializers.CharField(),
        "documento": serializers.URLField(allow_null=True, help_text="The quote's PDF, if the reply has one."),
    },
)
ChatWaiting = inline_serializer(
    "ChatWaiting",
    {
        **_CHAT,
        "status": serializers.ChoiceField(
            choices=["processing", "stored"], help_text="stored: the broker is down; answered once it is back."
        ),
        "respuesta": serializers.CharField(allow_null=True),
        "detail": serializers.CharField(required=False),
    },
)
ChatCancelled = inline_serializer(
    "ChatCancelled",
    {"task_id": serializers.UUIDField(), "status": serializers.ChoiceField(choices=[AgentTask.Status.CANCELLED])},
)

BatchCreated = inline_serializer(
    "DocumentBatchCreated",
    {
        "id": serializers.IntegerField(),
        "total": serializers.IntegerField(),
        "documents": inline_serializer(
            "DocumentAccepted",
            {
                "id": serializers.IntegerField(),
                "filename": serializers.CharField(),
                "status": serializers.ChoiceField(choices=Document.Status.choices),
                "error": serializers.CharField(allow_blank=True),
            },
            many=True,
        ),
    },
)

BatchProgress = inline_serializer(
    "DocumentBatchProgress",
    {
        "id": serializers.IntegerField(),
        "name": serializers.CharField(allow_blank=True),
        "status": serializers.ChoiceField(choices=DocumentBatch.Status.choices),
        "total": serializers.IntegerField(),
        "done": serializers.IntegerField(),
        "failed": serializers.IntegerField(),
        "percent": serializers.IntegerField(),
        "in_stage": serializers.DictField(child=serializers.IntegerField(), help_text="Documents at each stage."),
        "summary": _free_object(help_text="Counts by kind and outcome, once the batch is done."),
        "documents": inline_serializer(
            "DocumentRead",
            {
                "id": serializers.IntegerField(),
                "filename": serializers.CharField(),
                "file_type": serializers.CharField(allow_blank=True),
                "stage": serializers.CharField(),
                "status": serializers.ChoiceField(choices=Document.Status.choices),
                "kind": serializers.CharField(allow_blank=True),
                "kind_confidence": serializers.FloatField(allow_null=True),
                "quality": serializers.FloatField(allow_null=True),
                "review": serializers.ChoiceField(choices=Document.Review.choices),
                "review_reason": serializers.CharField(allow_blank=True),
                "error": serializers.CharField(allow_blank=True),
                "fields": _free_object(help_text="What was read: number, rut, dates, currency, amounts, lines."),
                "checks": _free_object(help_text="[{check, ok, detail}]"),
            },
            many=True,
        ),
    },
)

ReviewOut = inline_serializer(
    "DocumentReviewed",
    {
        "id": serializers.IntegerField(),
        "review": serializers.ChoiceField(choices=Document.Review.choices),
        "fields": _free_object(),
        "reviewed_via": serializers.CharField(),
        "failing_checks": _free_object(required=False, help_text="The checks that still fail after a correction."),
        "detail": serializers.CharField(required=False),
    },
)
