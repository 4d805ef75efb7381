"""The orchestrator: the one place that sends work to agents, and the reaper.

`task_submit` writes the AgentTask and enqueues it after the transaction commits; the reaper
runs on beat and re-dispatches what the broker lost or a dead worker left behind.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from celery import signals
from django.conf import settings
from django.db import close_old_connections, transaction
from django.utils import timezone

from agents import orchestrator as records
from agents.conversation import conversation_holds_release, message_withdraw
from agents.router import route_task
from bmc.celery import app as celery_app
from bmc.core.models import AgentTask, Tenant
from bmc.health import broker_waiting_ids
from bmc.queues import DEFAULT_PRIORITY, Queue, celery_priority
from tasks.base import agent_task, ping_task

logger = logging.getLogger(__name__)

ping = ping_task(Queue.ORCHESTRATOR)


def task_submit(
    *,
    tenant: Tenant,
    task_type: str,
    payload: dict[str, Any] | None = None,
    priority: str = DEFAULT_PRIORITY,
    required_capabilities: list[str] | None = None,
    metadata: dict[str, Any] | None = None,
    trace_id: str | None = None,
    requested_by: str = "api",
) -> AgentTask:
    """Route, record and enqueue a task. Raises RoutingError for work no agent takes."""
    metadata = metadata or {}
    required_capabilities = list(required_capabilities or [])
    route = route_task(task_type=task_type, intent=metadata.get("intent"), required_capabilities=required_capabilities)
    task = records.agent_task_create(
        tenant=tenant,
        route=route,
        task_type=task_type,
        payload=payload or {},
        priority=priority,
        required_capabilities=required_capabilities,
        metadata=metadata,
        trace_id=trace_id,
        requested_by=requested_by,
        queued=True,
    )
    celery_task = route.celery_task
    transaction.on_commit(lambda: task_publish(task=task, celery_task=celery_task, tenant_slug=tenant.slug))
    return task


def task_submit_many(
    *, task_type: str, items: list[tuple[int, dict[str, Any]]], priority: str = DEFAULT_PRIORITY, requested_by: str
) -> list[AgentTask]:
    """Many tasks of one type (a scan's batch): recorded with a fixed number of statements and
    published after commit over one broker connection. items: (tenant_id, payload)."""
    if not items:
        return []
    route = route_task(task_type=task_type)
    tasks = records.agent_tasks_create_many(
        route=route, task_type=task_type, items=items, priority=priority, requested_by=requested_by
    )
    slugs = dict(Tenant.objects.filter(pk__in={t.tenant_id for t in tasks}).values_list("pk", "slug"))

    def publish() -> None:
        with celery_app.producer_or_acquire() as producer:
            for task in tasks:
                task_publish(
                    task=task, celery_task=route.celery_task, tenant_slug=slugs[task.tenant_id], producer=producer
                )

    transaction.on_commit(publish)
    return tasks


def task_dispatch(*, task_id: str) -> bool:
    """Send a recorded task (again) to its agent's queue: the reaper's and the admin's way.
    False when it is no longer waiting or the broker is down."""
    task = AgentTask.objects.select_related("tenant").get(task_id=task_id)
    celery_task = route_task(
        task_type=task.task_type,
        intent=task.metadata.get("intent"),
        required_capabilities=task.required_capabilities,
    ).celery_task
    if not records.agent_task_mark_queued(task_id=task_id):
        return False
    return task_publish(task=task, celery_task=celery_task, tenant_slug=task.tenant.slug)


def task_publish(*, task: AgentTask, celery_task: str, tenant_slug: str, producer=None) -> bool:
    """Publish a task whose record says queued, under its own id. False when the broker is down:
    the record goes back to pending and the reaper tries again."""
    task_id = str(task.task_id)
    try:
        celery_app.send_task(
            celery_task,
            args=[task_id],
            task_id=task_id,
            queue=task.queue,
            priority=celery_priority(task.priority),
            headers={"trace_id": task.trace_id, "tenant": tenant_slug},
            retry=True,
            retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5},
            producer=producer,
        )
    except Exception as exc:  # broker unreachable: the record keeps the work, the reaper resends
        logger.warning("dispatch failed, the reaper will retry", extra={"task_id": task_id, "error": str(exc)})
        records.agent_task_mark_undispatched(task_id=task_id, error=f"broker unavailable: {exc}")
        task.status = AgentTask.Status.PENDING  # the caller's copy says so too (the API tells its client)
        return False
    return True


def turn_dispatch_replies(*, tenant: Tenant, message_ids: list[int], trace_id: str) -> list[str]:
    """A conversation turn decided its replies: the outbound agent sends each one."""
    return [
        str(
            task_submit(
                tenant=tenant,
                task_type="outbound.send_message",
                payload={"message_id": message_id},
                priority="high",
                trace_id=trace_id,
                requested_by="conversation",
            ).task_id
        )
        for message_id in message_ids
    ]


def turn_dispatcher(*, tenant: Tenant, trace_id: str) -> Callable[[Any], None]:
    """What a conversation turn hands on, for `conversation_turn(then=…)`: the tasks that send
    its replies and price its alternatives, recorded in the turn's transaction with them and
    published once it commits."""

    def dispatch(turn) -> None:
        turn_dispatch_replies(tenant=tenant, message_ids=turn.replies, trace_id=trace_id)
        if turn.options:
            turn_dispatch_options(tenant=tenant, result=turn, trace_id=trace_id)

    return dispatch


def turn_dispatch_options(*, tenant: Tenant, result, trace_id: str) -> AgentTask:
    """Alternatives asked together ('en 100 y en 150'): the quote agent prices them in parallel
    and one reply answers them (tasks.quote.price_options). Recorded like any task, in the
    turn's transaction, so the reaper sends it again if it never reaches the broker."""
    return task_submit(
        tenant=tenant,
        task_type="quote.price_options",
        payload={
            "conversation_id": result.conversation_id,
            "option_group": result.option_group,
            "options": result.options,
            "source_message_id": result.source_message_id,
            "answers": result.answers,
        },
        priority="high",
        trace_id=trace_id,
        requested_by="conversation",
    )


def message_dispatch_turn(
    *, tenant: Tenant, conversation_id: int, message_id: int, trace_id: str | None = None
) -> AgentTask:
    """An inbound message was stored: the conversation agent answers it."""
    return task_submit(
        tenant=tenant,
        task_type="conversation.process_message",
        payload={"conversation_id": conversation_id, "message_id": message_id},
        priority="high",
        trace_id=trace_id,
        requested_by="inbound",
    )


def followups_dispatch_due(*, now, batch: int = 500, max_batches: int = 40) -> int:
    """Claim due follow-ups a batch at a time and hand each to the follow-up agent. Each batch
    commits on its own, so a scan stopped halfway loses nothing and holds no lock for long."""
    from agents.followup import followup_claim_due
    from bmc.sales.models import FollowUp

    dispatched = 0
    for _ in range(max_batches):
        with transaction.atomic():
            claimed = followup_claim_due(now=now, limit=batch)
            tenants = dict(FollowUp.objects.filter(pk__in=claimed).values_list("pk", "tenant_id"))
            task_submit_many(
                task_type="followup.send_followup",
                items=[(tenants[pk], {"followup_id": pk}) for pk in claimed],
                requested_by="followup-scan",
            )
        dispatched += len(claimed)
        if len(claimed) < batch:
            break
    return dispatched


def dunning_dispatch_notices(*, notice_ids: list[int]) -> int:
    """Today's reminders are decided: the dunning agent writes each one's message."""
    from bmc.sales.models import DunningNotice

    tenants = dict(DunningNotice.objects.filter(pk__in=notice_ids).values_list("pk", "tenant_id"))
    with transaction.atomic():
        task_submit_many(
            task_type="dunning.send_notice",
            items=[(tenants[pk], {"notice_id": pk}) for pk in notice_ids],
            requested_by="dunning-scan",
        )
    return len(notice_ids)


def message_dispatch_send(*, tenant: Tenant, message_id: int, trace_id: str | None, requested_by: str) -> AgentTask:
    """A follow-up's or a reminder's message is written: the outbound agent sends it."""
    return task_submit(
        tenant=tenant,
        task_type="outbound.send_message",
        payload={"message_id": message_id},
        trace_id=trace_id,
        requested_by=requested_by,
    )


def task_cancel(*, task: AgentTask) -> bool:
    """Cancel a task that has not finished. The record is final at once, so no delivery of it will
    run; the revoke also stops it on a worker that is running it right now."""
    with transaction.atomic():
        if not records.agent_task_cancel(task=task):
            return False
        if task.task_type == "conversation.process_message":
            # its message is not to be answered, by this task or by any later turn or sweep
            message_withdraw(message_id=task.payload.get("message_id"))
    try:
        celery_app.control.revoke(str(task.task_id), terminate=True, signal="SIGTERM")
    except Exception as exc:  # broker down: the record alone keeps the task from running
        logger.warning("revoke not broadcast", extra={"task_id": str(task.task_id), "error": str(exc)})
    return True


def task_ids_held_by_workers(*, timeout: float) -> set[str]:
    """Ids of the tasks live workers are running, hold reserved, or keep for a retry. On a
    connection of its own: a pooled one may still point at a broker that has just restarted."""
    ids: set[str] = set()
    with celery_app.connection_for_write() as connection:
        inspect = celery_app.control.inspect(timeout=timeout, connection=connection)
        for reply in (inspect.active() or {}, inspect.reserved() or {}):
            for tasks in reply.values():
                ids.update(t["id"] for t in tasks)
        for tasks in (inspect.scheduled() or {}).values():
            ids.update(t["request"]["id"] for t in tasks)
    return ids


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
    plan = records.tasks_reap(
        broker_lost=broker_lost,
        now=timezone.now(),
        held_by_workers=task_ids_held_by_workers(timeout=settings.HEALTH_PING_TIMEOUT),
        waiting_in_broker=broker_waiting_ids,
        queued_deadline=timedelta(seconds=settings.REAPER_QUEUED_DEADLINE),
        running_grace=timedelta(seconds=settings.REAPER_RUNNING_GRACE),
        max_dispatches=settings.REAPER_MAX_DISPATCHES,
    )
    sent = [task_id for task_id in plan.redispatch if task_dispatch(task_id=task_id)]
    turns, replies = messages_sweep(older_than=timedelta(seconds=settings.REAPER_RUNNING_GRACE))
    if plan.redispatch or plan.dead or turns or replies or broker_lost:
        logger.warning(
            "reaper acted",
            extra={
                "redispatched": sent,
                "dead": plan.dead,
                "turns": turns,
                "replies": replies,
                "broker_lost": broker_lost,
            },
        )
    return {"redispatched": sent, "dead": plan.dead, "turns": turns, "replies": replies, "broker_lost": broker_lost}


@signals.worker_ready.connect
def _redispatch_orphans(sender: Any = None, **kwargs: Any) -> None:
    """A worker (re)started under its name, e.g. after its process was killed and the supervisor
    started it again: what it was running then is sent again now, not after the reaper's grace."""
    worker = getattr(sender, "hostname", None)
    if not worker:
        return
    queues = set(getattr(sender.app.amqp.queues, "consume_from", None) or {})
    try:
        close_old_connections()
        now = timezone.now()
        released = conversation_holds_release(holder=worker)  # before what waits for them runs again
        orphans = records.tasks_orphaned_by(worker=worker, now=now)
        sent = [task_id for task_id in orphans if task_dispatch(task_id=task_id)]
        # what the dead process held unacknowledged (reserved, or waiting for a retry's countdown),
        # and what it recorded but died before publishing, is in no queue and held by no live
        # worker: its record says queued, and nothing else would send it before the deadline
        plan = records.tasks_reap(
            now=now,
            held_by_workers=task_ids_held_by_workers(timeout=settings.HEALTH_PING_TIMEOUT),
            waiting_in_broker=broker_waiting_ids,
            queued_deadline=timedelta(0),
            running_grace=timedelta(seconds=settings.REAPER_RUNNING_GRACE),
            max_dispatches=settings.REAPER_MAX_DISPATCHES,
            queues=queues,
            requested_by=queues,  # an agent is named after its queue
        )
        sent += [task_id for task_id in plan.redispatch if task_dispatch(task_id=task_id)]
    except Exception:  # the database or the broker may be down too: the reaper does this later
        logger.exception("could not re-dispatch the tasks of this worker's previous run", extra={"worker": worker})
        return
    if orphans or plan.redispatch or plan.dead or released:
        logger.warning(
            "re-dispatched the tasks this worker's previous run held when it died",
            extra={"redispatched": sent, "dead": plan.dead, "worker": worker, "conversations_released": released},
        )


def messages_sweep(*, older_than: timedelta) -> tuple[list[int], list[int]]:
    """Customers' messages nobody answered and replies never sent, with no task alive for them (a
    worker died between committing a turn and dispatching its work): dispatch them again."""
    from agents.conversation import messages_given_up, messages_stranded

    tenants: dict[int, Tenant] = {}

    def tenant(pk: int) -> Tenant:
        return tenants.setdefault(pk, Tenant.objects.get(pk=pk))

    messages_given_up(max_attempts=settings.OUTBOUND_MAX_ATTEMPTS)  # before they would be sent again
    turns, replies = messages_stranded(now=timezone.now(), older_than=older_than)
    for tenant_id, conversation_id, message_id in turns:
        message_dispatch_turn(tenant=tenant(tenant_id), conversation_id=conversation_id, message_id=message_id)
    for tenant_id, message_id in replies:
        turn_dispatch_replies(tenant=tenant(tenant_id), message_ids=[message_id], trace_id=f"sweep-{message_id}")
    return [c for _, c, _ in turns], [m for _, m in replies]
