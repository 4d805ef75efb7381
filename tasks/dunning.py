"""Tasks of the dunning agent, consumed from the `dunning` queue."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from agents.sales.dunning import dunning_notice_send, dunning_notices_submit, dunning_scan
from bmc.queues import Queue
from tasks.base import agent_task, agent_task_load, ping_task

ping = ping_task(Queue.DUNNING)


@agent_task(Queue.DUNNING, "tasks.dunning.scan_overdue", soft_time_limit=240, time_limit=300, max_retries=0)
def scan_overdue(self) -> dict[str, Any]:
    """Beat, daily (crontab, 10:00 Montevideo, Monday to Saturday): decide today's reminders and
    escalations; each reminder goes to `send_notice`. Run twice the same day, it sends nothing new."""
    return {"notices": dunning_notices_submit(notice_ids=dunning_scan(now=timezone.now()))}


@agent_task(Queue.DUNNING, "tasks.dunning.send_notice", soft_time_limit=30, time_limit=45)
def send_notice(self, agent_task_id: str) -> dict[str, Any]:
    """payload: {notice_id}. Writes the reminder (once) and hands it to the outbound agent."""
    task = agent_task_load(agent_task_id)
    return dunning_notice_send(tenant=task.tenant, notice_id=task.payload["notice_id"], trace_id=task.trace_id)
