"""Submitting, publishing, dispatching and cancelling tasks: the one way work reaches an agent.

`task_submit` writes the task record and publishes it after the transaction commits, under the
record's own id; a publish the broker refuses leaves the record pending for the reaper. Agents
hand work on through here themselves, inside their own transactions. `tasks_replay` sends failed
and dead tasks again (the admin's and the API's retry).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from celery import chain, chord
from django.db import transaction

from bmc.celery import app as celery_app
from bmc.core.models import Tenant
from bmc.jobs import records
from bmc.jobs.backpressure import Hold, queue_depth, queue_hold, queue_limit
from bmc.jobs.models import AgentTask
from bmc.jobs.router import RoutingError, route_task
from bmc.metrics import TASK_OUTCOMES
from bmc.queues import DEFAULT_PRIORITY, celery_priority

logger = logging.getLogger(__name__)


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
    hold: Hold | None = None,
    can_wait: bool = True,
) -> AgentTask:
    """Route, record and enqueue a task. Raises RoutingError for work no agent takes.

    Work for a queue over its limit (bmc/jobs/backpressure.py) is recorded `held` instead, unless
    it cannot wait, and beat's release sends it as the queue drains; `hold` holds it whatever the
    queue (until a moment: a company over its quota). The record says which (`task.status`)."""
    metadata = metadata or {}
    required_capabilities = list(required_capabilities or [])
    route = route_task(task_type=task_type, intent=metadata.get("intent"), required_capabilities=required_capabilities)
    if hold is None and can_wait:
        hold = queue_hold(route.agent.queue)
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
        held=hold.as_metadata() if hold else None,
        held_until=hold.until if hold else None,
    )
    if hold is not None:
        logger.info("task held", extra={"task_id": str(task.task_id), "queue": task.queue, "reason": hold.reason})
        TASK_OUTCOMES.labels(task.agent, "held").inc()
        return task
    celery_task = route.celery_task
    transaction.on_commit(lambda: task_publish(task=task, celery_task=celery_task, tenant_slug=tenant.slug))
    return task


RELEASE_BATCH = 500


def tasks_release_held(*, now: datetime) -> dict[str, int]:
    """Held work published as its queue has room (its limit minus what waits) and its moment has
    come; returns how many per queue."""
    released: dict[str, int] = {}
    queues = AgentTask.objects.filter(status=AgentTask.Status.HELD).values_list("queue", flat=True).distinct()
    for queue in queues:
        limit = queue_limit(queue)
        depth = queue_depth(queue, fresh=True) if limit is not None else 0
        if depth is None:
            continue  # the broker away: nothing is sent into it
        room = min(RELEASE_BATCH, limit - depth) if limit is not None else RELEASE_BATCH
        if room <= 0:
            continue
        tasks = records.agent_tasks_release_held(queue=queue, room=room, now=now)
        if not tasks:
            continue
        with celery_app.producer_or_acquire() as producer:
            for task in tasks:
                task_publish(task=task, celery_task=_celery_task(task), tenant_slug=task.tenant.slug, producer=producer)
        released[queue] = len(tasks)
    return released


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
    celery_task = _celery_task(task)
    if not records.agent_task_mark_queued(task_id=task_id):
        return False
    return task_publish(task=task, celery_task=celery_task, tenant_slug=task.tenant.slug)


def _celery_task(task: AgentTask) -> str:
    """The consumer a recorded task goes to, routed again as when it was submitted."""
    return route_task(
        task_type=task.task_type, intent=task.metadata.get("intent"), required_capabilities=task.required_capabilities
    ).celery_task


def tasks_replay(*, tasks: Iterable[AgentTask], requested_by: str, replayed_by: str) -> list[AgentTask]:
    """Failed or dead tasks sent again, each with a fresh budget of attempts and dispatches, and
    published after commit over one broker connection; returns those replayed. A task that has
    meanwhile been replayed by someone else, or is no longer failed or dead, is left alone, as is
    one whose type no agent takes any more.

    Once only still holds: a replay runs the same task (same id, same payload), and the agents'
    own keys (an outbound message is claimed before it is sent, a follow-up's message has its
    idempotency key, a staff task its dedupe key) make work it had done before it died a no-op.
    A publish the broker refuses leaves the task pending, for the reaper."""
    replayed: list[tuple[AgentTask, str]] = []
    with transaction.atomic():
        for task in tasks:
            try:
                celery_task = _celery_task(task)
            except RoutingError as exc:
                logger.warning(
                    "not replayed: no agent takes it", extra={"task_id": str(task.task_id), "error": str(exc)}
                )
                continue
            if records.agent_task_replay(task=task, requested_by=requested_by, replayed_by=replayed_by):
                replayed.append((task, celery_task))
        slugs = dict(Tenant.objects.filter(pk__in={t.tenant_id for t, _ in replayed}).values_list("pk", "slug"))

        def publish() -> None:
            with celery_app.producer_or_acquire() as producer:
                for task, celery_task in replayed:
                    task_publish(
                        task=task, celery_task=celery_task, tenant_slug=slugs[task.tenant_id], producer=producer
                    )

        if replayed:
            transaction.on_commit(publish)
    return [task for task, _ in replayed]


def task_replay(*, task: AgentTask, requested_by: str, replayed_by: str) -> bool:
    """One failed or dead task sent again (tasks_replay); False when it was not replayed."""
    return bool(tasks_replay(tasks=[task], requested_by=requested_by, replayed_by=replayed_by))


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


def task_cancel(*, task: AgentTask, also: Callable[[], object] | None = None) -> bool:
    """Cancel a task that has not finished. The record is final at once, so no delivery of it will
    run; the revoke also stops it on a worker that is running it right now. `also` runs in the
    same transaction when the task was cancelled: what the caller's domain undoes with it."""
    with transaction.atomic():
        if not records.agent_task_cancel(task=task):
            return False
        if also is not None:
            also()
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


# --- canvases, by task name: the agents hand on work without importing a consumer --------------


def task_signature(name: str, *args: Any):
    """A task by its written name, its arguments fixed (the result of the one before is not
    passed on)."""
    return celery_app.signature(name, args=args, immutable=True)


def chains_then(*, chains: list[list[tuple[str, tuple]]], callback: tuple[str, tuple]) -> None:
    """Chains of tasks, each a list of (name, args), run in parallel; then `callback` once all
    have finished (a chord, counted by the result backend). No chains: the callback alone."""
    then = task_signature(callback[0], *callback[1])
    if not chains:
        then.apply_async()
        return
    chord([chain(*(task_signature(name, *args) for name, args in links)) for links in chains])(then)


def task_send(name: str, *args: Any) -> None:
    """Send one untracked task by its name (the stages of the documents agent keep their state in
    their own rows, not in task records)."""
    celery_app.send_task(name, args=list(args))
