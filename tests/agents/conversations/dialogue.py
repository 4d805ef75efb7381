"""Helpers of the conversation tests: a customer says something, alternatives priced and sent."""

from __future__ import annotations

from agents.conversations.replies import quote_option_price, quote_options_reply
from agents.conversations.turn import conversation_turn
from bmc.conversations.models import Message
from bmc.quotes.models import Quote


def say(conversation, *texts: str):
    for text in texts:
        Message.objects.create(
            tenant=conversation.tenant, conversation=conversation, direction="in", channel="n8n", text=text
        )
    return conversation_turn(
        tenant_id=conversation.tenant_id, conversation_id=conversation.pk, public_base_url="http://bmc.test"
    )


def options_priced(conversation, group: str) -> list[dict]:
    """'cotizame en 100 y en 150', priced: the chord's two outcomes, not yet answered."""
    spec = {"scenario": "roof", "family": "ISODEC_EPS", "length_m": 6, "width_m": 4.48, "zone": "MONTEVIDEO"}
    return [
        quote_option_price(
            tenant_id=conversation.tenant_id,
            conversation_id=conversation.pk,
            spec={**spec, "thickness_mm": t},
            option_group=group,
            source_message_id=None,
        )
        for t in (100, 150)
    ]


def options_sent(conversation) -> dict[int, Quote]:
    """'cotizame en 100 y en 150', answered: two quotes of one option group, sent together."""
    outcomes = options_priced(conversation, "opt-1")
    quote_options_reply(
        tenant_id=conversation.tenant_id,
        conversation_id=conversation.pk,
        option_group="opt-1",
        outcomes=outcomes,
        base_url="http://x",
    )
    return {q.spec["thickness_mm"]: q for q in Quote.objects.filter(option_group="opt-1")}
