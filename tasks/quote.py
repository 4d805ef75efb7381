"""Tasks of the quote agent, consumed from the `quote` queue."""

from __future__ import annotations

from typing import Any

from celery import chord

from agents.conversations.replies import quote_option_price
from bmc.celery import app as celery_app
from bmc.conversations.models import Conversation
from bmc.core.models import tenant_get
from bmc.queues import Queue
from tasks.base import agent_task, agent_task_load, ping_task

ping = ping_task(Queue.QUOTE)


@agent_task(Queue.QUOTE, "tasks.quote.price_options", soft_time_limit=30, time_limit=45)
def price_options(self, agent_task_id: str) -> dict[str, Any]:
    """A turn's alternatives: priced in parallel by a chord whose callback answers them all in
    one reply. Run twice (a redelivery), it stores nothing twice: each alternative is one quote
    per option key, the reply one per option group."""
    task = agent_task_load(agent_task_id)
    p = task.payload
    # the conversation must be the task's tenant's before anything is priced in it
    tenant_get(Conversation.objects.all(), tenant_id=task.tenant_id, pk=p["conversation_id"])
    header = [
        price_option.s(p["conversation_id"], spec, p["option_group"], p["source_message_id"], task.tenant_id)
        for spec in p["options"]
    ]
    # by its name: consumers do not import each other
    callback = celery_app.signature(
        "tasks.conversation.reply_options",
        args=(p["conversation_id"], p["option_group"], task.tenant_id, task.trace_id, p["answers"]),
    )
    result = chord(header)(callback)
    return {"options": len(header), "chord": result.id}


@agent_task(
    Queue.QUOTE, "tasks.quote.price_option", soft_time_limit=30, time_limit=45, ignore_result=False
)  # a chord's header
def price_option(
    self,
    conversation_id: int,
    spec: dict[str, Any],
    option_group: str,
    source_message_id: int | None,
    tenant_id: int,
) -> dict[str, Any]:
    """One of several alternatives, in a chord header: priced in parallel with the others."""
    return quote_option_price(
        tenant_id=tenant_id,
        conversation_id=conversation_id,
        spec=spec,
        option_group=option_group,
        source_message_id=source_message_id,
    )
