"""Tasks of the analytics agent, consumed from the `analytics` queue."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from agents.analytics import task_stats as task_stats_compute
from bmc.queues import Queue
from tasks.base import agent_task, agent_task_load, ping_task

ping = ping_task(Queue.ANALYTICS)


@agent_task(Queue.ANALYTICS, "tasks.analytics.task_stats", soft_time_limit=60, time_limit=90)
def task_stats(self, agent_task_id: str) -> dict[str, Any]:
    """payload: {"hours": 24}: counts and timings per agent over that window."""
    task = agent_task_load(agent_task_id)
    hours = int((task.payload or {}).get("hours", 24))
    return task_stats_compute(tenant=task.tenant, since=timezone.now() - timedelta(hours=hours))
