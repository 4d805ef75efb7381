"""Tasks of the outbound agent, consumed from the `outbound` queue: channel sends."""

from __future__ import annotations

from typing import Any

import agents.sales.dunning  # noqa: F401  the agents whose own messages outbound checks: their send guards
import agents.sales.followup  # noqa: F401
from agents.outbound import outbound_send
from bmc.queues import Queue
from tasks.base import agent_task, agent_task_load, ping_task

ping = ping_task(Queue.OUTBOUND)


@agent_task(Queue.OUTBOUND, "tasks.outbound.send_message", soft_time_limit=30, time_limit=45, max_retries=6)
def send_message(self, agent_task_id: str) -> dict[str, Any]:
    """payload: {message_id}. Sends once per message however often it runs; transient channel
    errors (timeouts, 429, 5xx) retry with backoff."""
    task = agent_task_load(agent_task_id)
    message_id = task.payload["message_id"]
    return {"message_id": message_id, "status": outbound_send(tenant_id=task.tenant_id, message_id=message_id)}
