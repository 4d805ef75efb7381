"""Tasks of the conversation agent, consumed from the `conversation` queue."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from agents.conversation import conversation_turn
from bmc.queues import Queue
from tasks.base import agent_task, agent_task_load, ping_task

ping = ping_task(Queue.CONVERSATION)


@agent_task(Queue.CONVERSATION, soft_time_limit=30, time_limit=45)
def process_message(self, agent_task_id: str) -> dict[str, Any]:
    """payload: {conversation_id, message_id}: answer the conversation's unanswered messages."""
    from tasks.orchestrator import turn_dispatch_replies

    task = agent_task_load(agent_task_id)
    result = conversation_turn(
        conversation_id=task.payload["conversation_id"], public_base_url=settings.PUBLIC_BASE_URL
    )
    turn_dispatch_replies(tenant=task.tenant, message_ids=result.replies, trace_id=task.trace_id)
    return result.as_dict()
