"""The task record's life: created, queued, claimed by a worker, finished; and the reaper.

Every transition is one conditional UPDATE, so two workers, a redelivery or the reaper racing
each other cannot move a record backwards or out of a final state. An attempt that ends without
success (retried, its worker lost, failed, dead) also leaves a TaskAttempt row, in the same
transaction; a success leaves none, so the common path pays no extra write.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from bmc.core.models import Tenant
from bmc.jobs.models import AgentMessage, AgentTask, TaskAttempt
from bmc.jobs.router import Route
from bmc.metrics import AGENT_ERRORS, AGENT_MESSAGES, TASK_OUTCOMES
from bmc.tracing import span_id_current, trace_id_current

Status = AgentTask.Status
WAITING = (Status.PENDING, Status.QUEUED)
ACTIVE = (*WAITING, Status.RUNNING)
# Ended without success, for good: what an operator may retry. `failed` as well as `dead`: a task
# that failed on a cause since fixed (a setting, a sheet, a partner's API) is what they retry most.
REPLAYABLE = (Status.FAILED, Status.DEAD)
Outcome = TaskAttempt.Outcome
ORCHESTRATOR = "orchestrator"


def new_trace_id() -> str:
    """The trace this work is part of: the current span's when tracing is on (the one a task
    submitted from another task or a request shares), else a new id."""
    return trace_id_current() or uuid.uuid4().hex


def new_span_id() -> str:
    """The span that writes the message when tracing is on, else a new id."""
    return span_id_current() or secrets.token_hex(8)


def agent_task_create(
    *,
    tenant: Tenant,
    route: Route,
    task_type: str,
    payload: dict[str, Any],
    priority: str,
    required_capabilities: list[str],
    metadata: dict[str, Any],
    trace_id: str | None = None,
    requested_by: str = "api",
    queued: bool = False,
    held: dict[str, Any] | None = None,
    held_until: datetime | None = None,
) -> AgentTask:
    """Write the task record and its request message. The caller dispatches after commit; with
    `queued` the record says so already (one write less), and `agent_task_mark_undispatched`
    takes it back if the broker refuses it."""
    now = timezone.now()
    with transaction.atomic(savepoint=False):  # nothing here is caught: no savepoint needed
        task = AgentTask.objects.create(
            tenant=tenant,
            task_type=task_type,
            agent=route.agent.id,
            queue=route.agent.queue,
            payload=payload,
            metadata={
                **metadata,
                "routed_by": route.reason,
                "requested_by": requested_by,
                **({"held": held} if held else {}),
            },
            priority=priority,
            required_capabilities=required_capabilities,
            trace_id=trace_id or new_trace_id(),
            **({"status": Status.QUEUED, "queued_at": now, "dispatches": 1} if queued and not held else {}),
            **({"status": Status.HELD, "held_until": held_until} if held else {}),
        )
        AgentMessage.objects.create(
            tenant=tenant,
            from_agent=requested_by,
            to_agent=route.agent.id,
            type=AgentMessage.Type.REQUEST,
            intent=task_type,
            payload=payload,
            priority=priority,
            timeout_ms=metadata.get("timeout_ms"),
            task=task,
            trace_id=task.trace_id,
            span_id=new_span_id(),
        )
    AGENT_MESSAGES.labels(requested_by, route.agent.id, AgentMessage.Type.REQUEST).inc()
    return task


def agent_tasks_create_many(
    *, route: Route, task_type: str, items: list[tuple[int, dict[str, Any]]], priority: str, requested_by: str
) -> list[AgentTask]:
    """Many records of one task type, born queued, with their request messages: two INSERTs
    whatever their number. items: (tenant_id, payload)."""
    now = timezone.now()
    tasks = [
        AgentTask(
            tenant_id=tenant_id,
            task_type=task_type,
            agent=route.agent.id,
            queue=route.agent.queue,
            payload=payload,
            metadata={"routed_by": route.reason, "requested_by": requested_by},
            priority=priority,
            required_capabilities=[],
            trace_id=new_trace_id(),
            status=Status.QUEUED,
            queued_at=now,
            dispatches=1,
        )
        for tenant_id, payload in items
    ]
    with transaction.atomic(savepoint=False):
        AgentTask.objects.bulk_create(tasks)
        AgentMessage.objects.bulk_create(
            AgentMessage(
                tenant_id=task.tenant_id,
                from_agent=requested_by,
                to_agent=route.agent.id,
                type=AgentMessage.Type.REQUEST,
                intent=task_type,
                payload=task.payload,
                priority=priority,
                task=task,
                trace_id=task.trace_id,
                span_id=new_span_id(),
            )
            for task in tasks
        )
    AGENT_MESSAGES.labels(requested_by, route.agent.id, AgentMessage.Type.REQUEST).inc(len(tasks))
    return tasks


def agent_task_mark_queued(*, task_id: str, now: datetime | None = None) -> bool:
    """Record a dispatch to the broker: only a task no worker has started is (re)queued."""
    return bool(
        AgentTask.objects.filter(task_id=task_id, status__in=WAITING).update(
            status=Status.QUEUED,
            queued_at=now or timezone.now(),
            dispatches=F("dispatches") + 1,
            updated_at=timezone.now(),
        )
    )


def agent_tasks_release_held(*, queue: str, room: int, now: datetime) -> list[AgentTask]:
    """Up to `room` held tasks of the queue, oldest first, whose moment has come, moved to queued
    (each by a conditional UPDATE: two releasers release each once), for the caller to publish."""
    ready = (
        AgentTask.objects.filter(queue=queue, status=Status.HELD)
        .filter(Q(held_until__isnull=True) | Q(held_until__lte=now))
        .select_related("tenant")
        .order_by("created_at")[:room]
    )
    released = []
    for task in ready:
        if AgentTask.objects.filter(pk=task.pk, status=Status.HELD).update(
            status=Status.QUEUED, queued_at=now, dispatches=F("dispatches") + 1, updated_at=now
        ):
            released.append(task)
    return released


def agent_task_mark_undispatched(*, task_id: str, error: str) -> None:
    """The broker refused the message: back to pending, and the dispatch does not count."""
    AgentTask.objects.filter(task_id=task_id, status=Status.QUEUED).update(
        status=Status.PENDING, error=error, dispatches=F("dispatches") - 1, updated_at=timezone.now()
    )


@dataclass(frozen=True)
class Claim:
    """What a worker may do with a delivery: run it (as attempt `attempt`) or skip it."""

    tracked: bool
    run: bool
    attempt: int = 0
    task: AgentTask | None = field(default=None, compare=False)  # the record as claimed, with its tenant


def agent_task_claim(*, task_id: str, worker: str, redelivered: bool, max_attempts: int) -> Claim:
    """A worker starts the task. A waiting task is claimed; a running one only by a redelivery
    of its message (its worker died), never by a second copy while the first still runs. A task
    that has used up its attempts (it keeps killing its worker) is marked dead instead.

    The claim is one conditional UPDATE; the read after it returns the record to the task."""
    now = timezone.now()
    claimable = [Status.PENDING, Status.QUEUED, *([Status.RUNNING] if redelivered else [])]
    # a redelivery may take over an attempt whose worker died: read it first, to record it lost
    # (only redeliveries pay this read)
    lost = (
        AgentTask.objects.filter(task_id=task_id, status=Status.RUNNING)
        .values_list("attempts", "worker", "started_at")
        .first()
        if redelivered
        else None
    )
    claimed = AgentTask.objects.filter(task_id=task_id, status__in=claimable, attempts__lt=max_attempts).update(
        status=Status.RUNNING, started_at=now, attempts=F("attempts") + 1, worker=worker, updated_at=now
    )
    task = AgentTask.objects.select_related("tenant").filter(task_id=task_id).first()
    if task is None:
        return Claim(tracked=False, run=True)
    if claimed:
        if lost is not None and lost[0] == task.attempts - 1:
            attempt, lost_worker, started_at = lost
            TaskAttempt.objects.create(
                task=task,
                replay=task.replays,
                attempt=attempt,
                worker=lost_worker,
                started_at=started_at,
                outcome=Outcome.LOST,
                error=f"worker {lost_worker or '?'} stopped running it: the broker delivered it again",
            )
        return Claim(tracked=True, run=True, attempt=task.attempts, task=task)
    if task.status in claimable:  # claimable but out of attempts
        agent_task_fail(
            task_id=task_id, error=f"dead after {task.attempts} attempts: every run was lost", status=Status.DEAD
        )
    return Claim(tracked=True, run=False)


def agent_task_complete(
    *, task_id: str, attempt: int, result: Any, processing_time_ms: int, task: AgentTask | None = None
) -> bool:
    """Finish the attempt that ran. Accepted even if the reaper meanwhile took the task for lost
    (it had no word from the worker in time): the work is done, the re-dispatched copy skips."""
    now = timezone.now()
    with transaction.atomic():
        done = AgentTask.objects.filter(task_id=task_id, status__in=ACTIVE, attempts=attempt).update(
            status=Status.COMPLETED,
            result=result,
            error="",
            finished_at=now,
            processing_time_ms=processing_time_ms,
            updated_at=now,
        )
        if done:
            _reply(task_id=task_id, type=AgentMessage.Type.RESPONSE, payload={"result": result}, task=task)
    return bool(done)


def agent_task_fail(
    *, task_id: str, error: str, processing_time_ms: int | None = None, status: str = Status.FAILED
) -> bool:
    now = timezone.now()
    with transaction.atomic():
        done = (
            AgentTask.objects.filter(task_id=task_id)
            .exclude(status__in=AgentTask.TERMINAL)
            .update(
                status=status,
                error=error[:4000],
                finished_at=now,
                processing_time_ms=processing_time_ms,
                updated_at=now,
            )
        )
        if done:
            if status in REPLAYABLE:
                _attempt_record(task_id=task_id, outcome=status, error=error)
            task = _reply(
                task_id=task_id, type=AgentMessage.Type.ERROR, payload={"error": error[:4000], "status": status}
            )
            if status == Status.DEAD:  # the worker's signals never see a task the reaper gives up on
                TASK_OUTCOMES.labels(task.agent, "dead").inc()
                AGENT_ERRORS.labels(task.agent, "dead").inc()
    return bool(done)


def agent_task_retrying(*, task_id: str, attempt: int, reason: str) -> bool:
    """The attempt failed transiently and a retry is on its way. Conditional on the attempt, since
    the retry's message goes out first and may already be running as the next attempt."""
    now = timezone.now()
    with transaction.atomic():  # the row stays locked until its attempt is recorded
        retrying = AgentTask.objects.filter(task_id=task_id, status=Status.RUNNING, attempts=attempt).update(
            status=Status.QUEUED, error=f"retrying: {reason}"[:4000], queued_at=now, updated_at=now
        )
        if retrying:
            _attempt_record(task_id=task_id, outcome=Outcome.RETRIED, error=reason, attempt=attempt)
    return bool(retrying)


def agent_task_cancel(*, task: AgentTask) -> bool:
    now = timezone.now()
    return bool(
        AgentTask.objects.filter(pk=task.pk, status__in=ACTIVE).update(
            status=Status.CANCELLED, finished_at=now, error="cancelled on request", updated_at=now
        )
    )


def agent_task_withdraw_unqueued(*, task: AgentTask) -> bool:
    """The broker refused a task its client can simply send again: withdrawn, so that nothing
    runs it later behind the client's back. False when the reaper has meanwhile queued it."""
    now = timezone.now()
    return bool(
        AgentTask.objects.filter(pk=task.pk, status=Status.PENDING).update(
            status=Status.CANCELLED,
            finished_at=now,
            error="not queued: the broker was unavailable; the client was told to submit it again",
            updated_at=now,
        )
    )


def agent_task_replay(*, task: AgentTask, requested_by: str, replayed_by: str) -> bool:
    """A task that failed or died goes back to the queue, with a fresh budget of attempts and
    dispatches (TASK_MAX_ATTEMPTS, REAPER_MAX_DISPATCHES count anew): conditional on it being still
    as `task` was read (failed or dead, not replayed since), so two operators retrying it at once
    replay it once. The caller publishes it after commit. Its attempts so far stay in
    TaskAttempt; a request message says who asked (`requested_by`: admin, api; `replayed_by`: the
    user or the key) and what the task had ended as."""
    now = timezone.now()
    with transaction.atomic(savepoint=False):  # nothing here is caught: no savepoint needed
        moved = AgentTask.objects.filter(pk=task.pk, status__in=REPLAYABLE, replays=task.replays).update(
            status=Status.QUEUED,
            queued_at=now,
            dispatches=1,
            attempts=0,
            replays=F("replays") + 1,
            result=None,
            error="",
            started_at=None,
            finished_at=None,
            processing_time_ms=None,
            updated_at=now,
        )
        if not moved:
            return False
        AgentMessage.objects.create(
            tenant_id=task.tenant_id,
            from_agent=requested_by,
            to_agent=task.agent,
            type=AgentMessage.Type.REQUEST,
            intent=task.task_type,
            payload={"replay": task.replays + 1, "replayed_by": replayed_by, "was": task.status, "error": task.error},
            priority=task.priority,
            task=task,
            trace_id=task.trace_id,
            span_id=new_span_id(),
        )
    return True


def _attempt_record(*, task_id: str, outcome: str, error: str, attempt: int | None = None) -> None:
    """The attempt that has just ended without success, read from the task's row as the transition
    left it, by the INSERT itself (one statement). Called in the transition's transaction, which
    holds the row: what it reads is the attempt the transition ended."""
    row = AgentTask.objects.filter(task_id=task_id)

    def column(name: str) -> Subquery:
        return Subquery(row.values(name)[:1])

    TaskAttempt.objects.create(
        task_id=column("pk"),
        replay=column("replays"),
        attempt=column("attempts") if attempt is None else attempt,
        worker=column("worker"),
        started_at=column("started_at"),
        outcome=outcome,
        error=error[:4000],
    )


def _reply(*, task_id: str, type: str, payload: dict[str, Any], task: AgentTask | None = None) -> AgentTask:
    if task is None:
        task = AgentTask.objects.only("id", "tenant_id", "agent", "task_type", "priority", "trace_id", "metadata").get(
            task_id=task_id
        )
    # the request this answers, read by the INSERT itself (one statement, not two)
    request = AgentMessage.objects.filter(task_id=task.pk, type=AgentMessage.Type.REQUEST).order_by("created_at")
    AgentMessage.objects.create(
        tenant_id=task.tenant_id,
        from_agent=task.agent,
        to_agent=Coalesce(Subquery(request.values("from_agent")[:1]), Value(ORCHESTRATOR)),
        reply_to_id=Subquery(request.values("pk")[:1]),
        type=type,
        intent=task.task_type,
        payload=payload,
        priority=task.priority,
        task=task,
        trace_id=task.trace_id,
        span_id=new_span_id(),
    )
    AGENT_MESSAGES.labels(task.agent, task.metadata.get("requested_by", ORCHESTRATOR), type).inc()
    return task


@dataclass
class ReapPlan:
    redispatch: list[str] = field(default_factory=list)
    dead: list[str] = field(default_factory=list)


def tasks_reap(
    *,
    now: datetime,
    held_by_workers: set[str],
    waiting_in_broker: Callable[[str], set[str] | None],
    queued_deadline: timedelta,
    running_grace: timedelta,
    max_dispatches: int,
    broker_lost: bool = False,
    queues: set[str] | None = None,
    requested_by: set[str] | None = None,
) -> ReapPlan:
    """Find tasks nothing will finish, and decide: dispatch again, or dead.

    - queued past the deadline whose message is neither in the broker's queue nor held by a
      worker (reserved, or scheduled for a retry): the broker lost it. A queue that is merely
      backed up is left alone.
    - pending: the broker refused it when it was published (it was down); nothing to wait for.
    - running past the grace period on no live worker: the worker died with it.

    `held_by_workers` are the ids live workers report (active, reserved, scheduled);
    `waiting_in_broker(queue)` gives the ids still in that queue, or None when the broker cannot
    tell. `broker_lost`: the broker came back empty (a restart without persistence), so whatever
    was queued in it is gone and nothing waits for the deadline. `queues`: only tasks of these
    queues, or asked for by these agents (a worker that has just started looks at what it
    consumes, and at what it sends on: its previous run may have died between committing a task's
    record and publishing it). Those with dispatches left go
    back to pending for the caller to dispatch; the rest are marked dead. Every move is
    conditional on the record not having changed meanwhile."""
    deadline = now if broker_lost else now - queued_deadline
    waiting = Q(status=Status.PENDING) | Q(status=Status.QUEUED, queued_at_or_created__lt=deadline)
    orphaned = Q(status=Status.RUNNING, started_at__lt=now - running_grace)
    candidates = (
        AgentTask.objects.annotate(queued_at_or_created=Coalesce("queued_at", "created_at"))
        .filter(waiting | orphaned)
        .values_list("task_id", "status", "attempts", "dispatches", "queue", "worker")
    )
    if queues is not None or requested_by is not None:
        asked_by = AgentMessage.objects.filter(
            task_id=OuterRef("pk"), type=AgentMessage.Type.REQUEST, from_agent__in=requested_by or ()
        )
        candidates = candidates.filter(Q(queue__in=queues or ()) | Q(Exists(asked_by)))
    in_broker: dict[str, set[str] | None] = {}
    plan = ReapPlan()
    for task_id, status, attempts, dispatches, queue, worker in candidates:
        task_id = str(task_id)
        if task_id in held_by_workers:
            continue
        if status != Status.RUNNING:
            if queue not in in_broker:
                in_broker[queue] = waiting_in_broker(queue)
            if in_broker[queue] is not None and task_id in in_broker[queue]:
                continue
        reason = {
            Status.RUNNING: f"worker {worker or '?'} stopped running it",
            Status.PENDING: "the broker was down when it was sent",
        }.get(status, "the broker lost it")
        unchanged = AgentTask.objects.filter(task_id=task_id, status=status, attempts=attempts, dispatches=dispatches)
        if dispatches >= max_dispatches:
            if unchanged.exists() and agent_task_fail(
                task_id=task_id, error=f"dead after {dispatches} dispatches: {reason}", status=Status.DEAD
            ):
                plan.dead.append(task_id)
            continue
        with transaction.atomic():
            if not unchanged.update(
                status=Status.PENDING, error=f"re-dispatched by the reaper: {reason}", updated_at=now
            ):
                continue
            if status == Status.RUNNING:
                _attempt_record(task_id=task_id, outcome=Outcome.LOST, error=reason)
        plan.redispatch.append(task_id)
    return plan


def tasks_orphaned_by(*, worker: str, now: datetime) -> list[str]:
    """A worker has just started under this name: whatever a worker of the same name was running
    died with it (its pool processes die with their parent), so those tasks go back to pending at
    once for the caller to dispatch, instead of waiting out the reaper's grace period. Their old
    messages, if the broker ever redelivers them, find the record taken and run nothing."""
    orphaned = list(
        AgentTask.objects.filter(status=Status.RUNNING, worker=worker).values_list("task_id", "attempts", "dispatches")
    )
    ids = []
    for task_id, attempts, dispatches in orphaned:
        with transaction.atomic():
            moved = AgentTask.objects.filter(
                task_id=task_id, status=Status.RUNNING, worker=worker, attempts=attempts, dispatches=dispatches
            ).update(status=Status.PENDING, error=f"re-dispatched: worker {worker} restarted", updated_at=now)
            if moved:
                _attempt_record(task_id=str(task_id), outcome=Outcome.LOST, error=f"worker {worker} restarted")
        if moved:
            ids.append(str(task_id))
    return ids
