"""Every task's run counted for /metrics (bmc/metrics.py): its duration, its outcome, its errors,
and for a tracked task the latency of the agent's answer (from the task's record to its end).

Signal handlers beside tasks/base.py's, which keep the records: these only count, and never let a
counting problem reach the task."""

from __future__ import annotations

import logging
import time
from typing import Any

from celery import Task, signals
from django.utils import timezone

from bmc.metrics import AGENT_ERRORS, AGENT_MESSAGE_LATENCY, TASK_DURATION, TASK_OUTCOMES, agent_label
from tasks.base import claimed_task

logger = logging.getLogger(__name__)


def _duration(task: Task) -> None:
    started = getattr(task.request, "bmc_started", None)
    if started is not None:
        TASK_DURATION.labels(agent_label(task.name), task.name).observe(time.monotonic() - started)


@signals.task_success.connect
def _count_success(sender: Task, **kwargs: Any) -> None:
    try:
        agent = agent_label(sender.name)
        if getattr(sender.request, "bmc_skip", False):
            TASK_OUTCOMES.labels(agent, "skipped").inc()
            return
        TASK_OUTCOMES.labels(agent, "completed").inc()
        _duration(sender)
        record = claimed_task(sender.request.id)
        if record is not None:
            seconds = (timezone.now() - record.created_at).total_seconds()
            AGENT_MESSAGE_LATENCY.labels(agent, record.task_type).observe(max(seconds, 0.0))
    except Exception:
        logger.exception("could not count a task's success")


@signals.task_retry.connect
def _count_retry(sender: Task, reason: Any, **kwargs: Any) -> None:
    try:
        agent = agent_label(sender.name)
        TASK_OUTCOMES.labels(agent, "retried").inc()
        AGENT_ERRORS.labels(agent, type(reason.exc if hasattr(reason, "exc") else reason).__name__).inc()
    except Exception:
        logger.exception("could not count a task's retry")


@signals.task_failure.connect
def _count_failure(sender: Task, exception: BaseException, **kwargs: Any) -> None:
    try:
        if getattr(sender.request, "bmc_skip", False):
            return
        agent = agent_label(sender.name)
        TASK_OUTCOMES.labels(agent, "failed").inc()
        AGENT_ERRORS.labels(agent, type(exception).__name__).inc()
        _duration(sender)
    except Exception:
        logger.exception("could not count a task's failure")


@signals.task_revoked.connect
def _count_revoked(request: Any, expired: bool, **kwargs: Any) -> None:
    try:
        agent = agent_label(getattr(request, "task", None) or getattr(request, "name", "") or "")
        outcome = "expired" if expired else "cancelled"
        TASK_OUTCOMES.labels(agent, outcome).inc()
        AGENT_ERRORS.labels(agent, outcome).inc()
    except Exception:
        logger.exception("could not count a revoked task")
