"""Tasks of the orchestrator, consumed from the `orchestrator` queue: its ping, the reaper and the
daily retention run; and what every worker does when it starts (a signal of the worker's main process)."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from celery import signals
from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from agents.alerts import alerts_evaluate
from agents.events import event_deliver, events_publish, events_unpublished_submit
from agents.reaper import tasks_reaper_run, worker_restart_recover
from agents.retention import retention_run
from agents.staff import staff_task_open
from agents.workflows.engine import workflow_advance, workflows_scan
from bmc.alerts.models import AlertRule
from bmc.core.limits import usage_flush
from bmc.health import beat_tick_last
from bmc.jobs.submit import tasks_release_held
from bmc.queues import Queue
from bmc.sales.models import StaffTask
from tasks.base import agent_task, agent_task_load, ping_task

logger = logging.getLogger(__name__)

ping = ping_task(Queue.ORCHESTRATOR)


# Retried on a connection error: right after the broker restarts, a pooled connection of this
# process may still point at the old one, and the run that recovers its lost work must not be lost.
@agent_task(
    Queue.ORCHESTRATOR,
    "tasks.orchestrator.reap_tasks",
    soft_time_limit=50,
    time_limit=60,
    max_retries=3,
    retry_backoff=1,
)
def reap_tasks(self, broker_lost: bool = False) -> dict[str, Any]:
    """Beat, every REAPER_INTERVAL; and at once, with `broker_lost`, when beat finds the broker
    came back empty (bmc.beat)."""
    return tasks_reaper_run(broker_lost=broker_lost)


@agent_task(Queue.ORCHESTRATOR, "tasks.orchestrator.release_held", soft_time_limit=50, time_limit=60, max_retries=0)
def release_held(self) -> dict[str, Any]:
    """Beat, every HELD_RELEASE_INTERVAL: held work sent as its queue drains (bmc/jobs/backpressure.py)."""
    return {"released": tasks_release_held(now=timezone.now())}


@agent_task(Queue.ORCHESTRATOR, "tasks.orchestrator.flush_usage", soft_time_limit=50, time_limit=60, max_retries=0)
def flush_usage(self) -> dict[str, Any]:
    """Beat, every USAGE_FLUSH_INTERVAL: each company's usage, counted in Redis, into TenantUsage."""
    return {"rows": usage_flush()}


# A run stops between two batches after PRUNE_SECONDS, well inside its soft limit: what is left
# waits for the next day's run, and a run that lost its worker loses nothing (every batch commits).
PRUNE_SECONDS = 1500


@agent_task(
    Queue.ORCHESTRATOR,
    "tasks.orchestrator.prune_data",
    soft_time_limit=1800,
    time_limit=1900,
    max_retries=3,
    retry_backoff=60,
)
def prune_data(self) -> dict[str, Any]:
    """Beat, daily: what is older than its RETENTION_*_DAYS is deleted; counts per kind."""
    return retention_run(max_seconds=PRUNE_SECONDS)


@agent_task(
    Queue.ORCHESTRATOR,
    "tasks.orchestrator.publish_unpublished_events",
    soft_time_limit=50,
    time_limit=60,
    max_retries=3,
    retry_backoff=1,
)
def publish_unpublished_events(self) -> dict[str, Any]:
    """Beat, every EVENTS_SCAN_INTERVAL: events whose process died between their commit and their
    hand-off are published anyway."""
    return events_unpublished_submit()


@agent_task(Queue.ORCHESTRATOR, "tasks.orchestrator.publish_event", soft_time_limit=30, time_limit=45)
def publish_event(self, agent_task_id: str) -> dict[str, Any]:
    """payload: {event_id}: one delivery per subscription of its type, each made once."""
    task = agent_task_load(agent_task_id)
    return events_publish(tenant_id=task.tenant_id, event_id=task.payload["event_id"])


@agent_task(
    Queue.ORCHESTRATOR,
    "tasks.orchestrator.deliver_event",
    soft_time_limit=30,
    time_limit=45,
    max_retries=8,
    retry_backoff=30,
    retry_backoff_max=3600,
)
def deliver_event(self, agent_task_id: str) -> dict[str, Any]:
    """payload: {delivery_id}: POST the event, signed; no answer, 429 or 5xx (a ConnectionError, so
    retried like every transient error) again with backoff: 30 s doubling to an hour, 8 times."""
    task = agent_task_load(agent_task_id)
    delivery_id = task.payload["delivery_id"]
    return {"delivery_id": delivery_id, "status": event_deliver(tenant_id=task.tenant_id, delivery_id=delivery_id)}


@agent_task(
    Queue.ORCHESTRATOR,
    "tasks.orchestrator.scan_workflows",
    soft_time_limit=50,
    time_limit=60,
    max_retries=3,
    retry_backoff=1,
)
def scan_workflows(self) -> dict[str, Any]:
    """Beat, every WORKFLOWS_SCAN_INTERVAL: runs whose timer or timeout has come, whose step's
    work finished, or whose advance was lost with its process, are advanced."""
    return workflows_scan()


@agent_task(Queue.ORCHESTRATOR, "tasks.orchestrator.advance_workflow", soft_time_limit=30, time_limit=45)
def advance_workflow(self, agent_task_id: str) -> dict[str, Any]:
    """payload: {run_id}: the run as far as it goes now."""
    task = agent_task_load(agent_task_id)
    return workflow_advance(tenant_id=task.tenant_id, run_id=task.payload["run_id"])


@agent_task(Queue.ORCHESTRATOR, "tasks.orchestrator.notify_staff", soft_time_limit=30, time_limit=45)
def notify_staff(self, agent_task_id: str) -> dict[str, Any]:
    """payload: {title, detail}: a staff task, one per workflow step however often this runs."""
    task = agent_task_load(agent_task_id)
    step = task.metadata.get("workflow_step")
    opened = staff_task_open(
        tenant_id=task.tenant_id,
        kind=StaffTask.Kind.WORKFLOW,
        dedupe_key=f"workflow-step:{step}" if step else f"task:{task.task_id}",
        title=str(task.payload.get("title") or "Tarea de un flujo de trabajo"),
        detail=str(task.payload.get("detail") or ""),
    )
    return {"staff_task_id": opened.pk, "title": opened.title}


@signals.worker_ready.connect
def _recover_previous_run(sender: Any = None, **kwargs: Any) -> None:
    """A worker (re)started under its name, e.g. after its process was killed and the supervisor
    started it again: what its previous run held is sent again now, not after the reaper's grace."""
    worker = getattr(sender, "hostname", None)
    if not worker:
        return
    try:
        close_old_connections()
        worker_restart_recover(worker=worker, queues=set(getattr(sender.app.amqp.queues, "consume_from", None) or {}))
    except Exception:  # the database or the broker may be down too: the reaper does this later
        logger.exception("could not re-dispatch the tasks of this worker's previous run", extra={"worker": worker})


@signals.worker_ready.connect
def _watch_beat(sender: Any = None, **kwargs: Any) -> None:
    """The orchestrator's worker watches beat, which evaluates every other alert: a silent beat is
    told from here (agents/alerts.py)."""
    queues = set(getattr(getattr(sender, "app", None) and sender.app.amqp.queues, "consume_from", None) or {})
    if Queue.ORCHESTRATOR.value not in queues:
        return
    threading.Thread(target=_beat_watchdog, name="beat-watchdog", daemon=True).start()


def _beat_watchdog() -> None:
    """Only once beat has ticked here at least once: a system started without beat is told by
    /health/detailed, and a worker of a test is not a system."""
    while True:
        time.sleep(settings.ALERTS_INTERVAL)
        try:
            if beat_tick_last() is None:
                continue
            close_old_connections()
            alerts_evaluate(kinds={AlertRule.Kind.BEAT_SILENT})
        except Exception:  # the database or Redis away: the next round tries again
            logger.exception("could not evaluate whether beat is silent")
