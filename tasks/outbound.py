"""Tasks of the outbound agent, consumed from the `outbound` queue: channel sends."""

from __future__ import annotations

import random
from typing import Any

import agents.sales.dunning  # noqa: F401  the agents whose own messages outbound checks: their send guards
import agents.sales.followup  # noqa: F401
from agents.outbound import TransientSendError, outbound_send
from bmc.queues import Queue
from tasks.base import agent_task, agent_task_load, ping_task

ping = ping_task(Queue.OUTBOUND)


@agent_task(Queue.OUTBOUND, "tasks.outbound.send_message", soft_time_limit=30, time_limit=45, max_retries=6)
def send_message(self, agent_task_id: str) -> dict[str, Any]:
    """payload: {message_id}. Sends once per message however often it runs; transient channel
    errors (timeouts, 429, 5xx) retry with backoff. A send the channel's circuit breaker held back
    comes again when the breaker lets a trial through (a few seconds' jitter spreads the waiting
    sends); should its retries run out meanwhile, the message is still pending and the reaper
    sends it again."""
    task = agent_task_load(agent_task_id)
    message_id = task.payload["message_id"]
    try:
        status = outbound_send(tenant_id=task.tenant_id, message_id=message_id)
    except TransientSendError as error:
        if error.retry_after is None:
            raise
        raise self.retry(exc=error, countdown=error.retry_after + random.uniform(0, 5)) from error
    return {"message_id": message_id, "status": status}
