"""What lists of conversations are read with (the inbox, the home, the API): each conversation's
last message and whether a person owes the customer an answer, computed by the database."""

from __future__ import annotations

from django.db.models import BooleanField, Case, OuterRef, Q, QuerySet, Subquery, Value, When

from bmc.conversations.models import Conversation, Message


def conversations_with_last_message(queryset: QuerySet[Conversation]) -> QuerySet[Conversation]:
    """Annotated with `last_direction`, `last_text`, `last_message_id` (the newest message) and
    `needs_reply`: the conversation is with staff and its last word is the customer's."""
    last = Message.objects.filter(conversation=OuterRef("pk")).order_by("-created_at", "-id")
    return queryset.annotate(
        last_message_id=Subquery(last.values("id")[:1]),
        last_direction=Subquery(last.values("direction")[:1]),
        last_text=Subquery(last.values("text")[:1]),
    ).annotate(
        needs_reply=Case(
            When(
                Q(state=Conversation.State.HANDOFF, last_direction=Message.Direction.INBOUND),
                then=Value(True),
            ),
            default=Value(False),
            output_field=BooleanField(),
        )
    )
