"""Tasks of the follow-up agent, consumed from the `followup` queue."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils import timezone

from agents.sales.followup import followup_send, followups_submit_due, quotes_expire, quotes_without_order
from bmc.queues import Queue
from tasks.base import agent_task, agent_task_load, ping_task

ping = ping_task(Queue.FOLLOWUP)


@agent_task(Queue.FOLLOWUP, "tasks.followup.scan_due", soft_time_limit=50, time_limit=60, max_retries=0)
def scan_due(self) -> dict[str, Any]:
    """Beat, every minute: due follow-ups (in sending hours) go to `send_followup`. Two of these
    at once (two beats) split the rows: each follow-up is claimed by one of them."""
    return {"dispatched": followups_submit_due(now=timezone.now())}


@agent_task(Queue.FOLLOWUP, "tasks.followup.send_followup", soft_time_limit=30, time_limit=45)
def send_followup(self, agent_task_id: str) -> dict[str, Any]:
    """payload: {followup_id}. Writes the message (once) and hands it to the outbound agent."""
    task = agent_task_load(agent_task_id)
    return followup_send(
        tenant=task.tenant,
        followup_id=task.payload["followup_id"],
        base_url=settings.PUBLIC_BASE_URL,
        trace_id=task.trace_id,
    )


@agent_task(Queue.FOLLOWUP, "tasks.followup.proactive_scan", soft_time_limit=120, time_limit=150, max_retries=0)
def proactive_scan(self) -> dict[str, Any]:
    """Beat, daily: quotes past their validity expire; accepted quotes with no order after the
    policy's wait become staff tasks. (The reminder the day before a quote expires is a
    follow-up of its own, scheduled when the quote was sent.)"""
    now = timezone.now()
    return {"expired": quotes_expire(now=now), "order_tasks": quotes_without_order(now=now)}
