"""Tasks of the quote agent, consumed from the `quote` queue."""

from __future__ import annotations

from typing import Any

from agents.conversation import quote_option_price
from bmc.queues import Queue
from tasks.base import agent_task, ping_task

ping = ping_task(Queue.QUOTE)


@agent_task(Queue.QUOTE, soft_time_limit=30, time_limit=45, ignore_result=False)  # a chord's header
def price_option(
    self, conversation_id: int, spec: dict[str, Any], option_group: str, source_message_id: int | None
) -> dict[str, Any]:
    """One of several alternatives, in a chord header: priced in parallel with the others."""
    return quote_option_price(
        conversation_id=conversation_id, spec=spec, option_group=option_group, source_message_id=source_message_id
    )
