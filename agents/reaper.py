"""The reaper: what a lost broker, a dead worker or a crash between a commit and its publish left
behind, found from the task records and the messages, and sent again.

`tasks_reaper_run` is beat's (every REAPER_INTERVAL, and at once when beat finds the broker came
back empty); `worker_restart_recover` is a worker's own, when it starts again under its name.
Nothing runs twice for it: a second copy of a task finds its record taken and runs nothing.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from agents.conversations.holds import conversation_holds_release
from agents.conversations.inbound import inbound_turn_submit
from agents.conversations.recovery import messages_given_up, messages_stranded
from agents.outbound import outbound_send_submit
from bmc.core.models import Tenant
from bmc.health import broker_waiting_ids
from bmc.jobs import records
from bmc.jobs.submit import task_dispatch, task_ids_held_by_workers

logger = logging.getLogger(__name__)


def _reap(*, now, queued_deadline: timedelta, broker_lost: bool = False, **scope: Any) -> records.ReapPlan:
    return records.tasks_reap(
        now=now,
        held_by_workers=task_ids_held_by_workers(timeout=settings.HEALTH_PING_TIMEOUT),
        waiting_in_broker=broker_waiting_ids,
        queued_deadline=queued_deadline,
        running_grace=timedelta(seconds=settings.REAPER_RUNNING_GRACE),
        max_dispatches=settings.REAPER_MAX_DISPATCHES,
        broker_lost=broker_lost,
        **scope,
    )


def tasks_reaper_run(*, broker_lost: bool = False) -> dict[str, Any]:
    """Tasks nothing will finish sent again (or marked dead), then the messages a crash left
    unanswered or unsent. `broker_lost`: the broker came back empty, nothing waits the deadline."""
    plan = _reap(
        now=timezone.now(), queued_deadline=timedelta(seconds=settings.REAPER_QUEUED_DEADLINE), broker_lost=broker_lost
    )
    sent = [task_id for task_id in plan.redispatch if task_dispatch(task_id=task_id)]
    turns, replies = messages_sweep(older_than=timedelta(seconds=settings.REAPER_RUNNING_GRACE))
    report = {"redispatched": sent, "dead": plan.dead, "turns": turns, "replies": replies, "broker_lost": broker_lost}
    if plan.redispatch or plan.dead or turns or replies or broker_lost:
        logger.warning("reaper acted", extra=report)
    return report


def worker_restart_recover(*, worker: str, queues: set[str]) -> dict[str, Any]:
    """A worker started again under its name (its process was killed, and the supervisor started
    it again): it lets go of the conversations its previous run held, re-sends the tasks the
    records say it was running, and what its queues hold or its agent recorded that is in no queue
    and held by no live worker (reserved, waiting out a retry's countdown, or recorded and never
    published), instead of waiting for the reaper's deadlines."""
    now = timezone.now()
    released = conversation_holds_release(holder=worker)  # before what waits for them runs again
    orphans = records.tasks_orphaned_by(worker=worker, now=now)
    sent = [task_id for task_id in orphans if task_dispatch(task_id=task_id)]
    # an agent is named after its queue: what its own previous run asked for is in scope too
    plan = _reap(now=now, queued_deadline=timedelta(0), queues=queues, requested_by=queues)
    sent += [task_id for task_id in plan.redispatch if task_dispatch(task_id=task_id)]
    report = {"redispatched": sent, "dead": plan.dead, "worker": worker, "conversations_released": released}
    if orphans or plan.redispatch or plan.dead or released:
        logger.warning("re-dispatched the tasks this worker's previous run held when it died", extra=report)
    return report


def messages_sweep(*, older_than: timedelta) -> tuple[list[int], list[int]]:
    """Customers' messages nobody answered and replies never sent, with no task alive for them (a
    worker died between committing a turn and publishing its work): sent again."""
    tenants: dict[int, Tenant] = {}

    def tenant(pk: int) -> Tenant:
        return tenants.setdefault(pk, Tenant.objects.get(pk=pk))

    messages_given_up(max_attempts=settings.OUTBOUND_MAX_ATTEMPTS)  # before they would be sent again
    turns, replies = messages_stranded(now=timezone.now(), older_than=older_than)
    for tenant_id, conversation_id, message_id in turns:
        inbound_turn_submit(tenant=tenant(tenant_id), conversation_id=conversation_id, message_id=message_id)
    for tenant_id, message_id in replies:
        outbound_send_submit(
            tenant=tenant(tenant_id),
            message_ids=[message_id],
            trace_id=f"sweep-{message_id}",
            requested_by="conversation",
            priority="high",
        )
    return [c for _, c, _ in turns], [m for _, m in replies]
