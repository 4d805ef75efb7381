"""The task record's life: created, queued, claimed by a worker, finished; and the reaper.

Every transition is one conditional UPDATE, so two workers, a redelivery or the reaper racing
each other cannot move a record backwards or out of a final state.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from agents.router import Route
from bmc.core.models import AgentMessage, AgentTask, Tenant

Status = AgentTask.Status
ACTIVE = (Status.PENDING, Status.QUEUED, Status.RUNNING)
ORCHESTRATOR = "orchestrator"


def new_trace_id() -> str:
    return uuid.uuid4().hex


def new_span_id() -> str:
    return secrets.token_hex(8)


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
) -> AgentTask:
    """Write the task record and its request message. The caller dispatches after commit."""
    with transaction.atomic():
        task = AgentTask.objects.create(
            tenant=tenant,
            task_type=task_type,
            agent=route.agent.id,
            queue=route.agent.queue,
            payload=payload,
            metadata={**metadata, "routed_by": route.reason},
            priority=priority,
            required_capabilities=required_capabilities,
            trace_id=trace_id or new_trace_id(),
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
    return task


def agent_task_mark_queued(*, task_id: str, now: datetime | None = None) -> bool:
    """Record a dispatch to the broker. Only a task not yet started (or lost) is queued again."""
    return bool(
        AgentTask.objects.filter(task_id=task_id, status__in=ACTIVE).update(
            status=Status.QUEUED,
            queued_at=now or timezone.now(),
            dispatches=F("dispatches") + 1,
            updated_at=timezone.now(),
        )
    )


def agent_task_mark_undispatched(*, task_id: str, error: str) -> None:
    AgentTask.objects.filter(task_id=task_id, status=Status.QUEUED).update(
        status=Status.PENDING, error=error, updated_at=timezone.now()
    )


def agent_task_claim(*, task_id: str, worker: str) -> bool | None:
    """A worker starts the task. None: not a tracked task; False: final already, skip it."""
    now = timezone.now()
    claimed = (
        AgentTask.objects.filter(task_id=task_id)
        .exclude(status__in=AgentTask.TERMINAL)
        .update(status=Status.RUNNING, started_at=now, attempts=F("attempts") + 1, worker=worker, updated_at=now)
    )
    if claimed:
        return True
    return False if AgentTask.objects.filter(task_id=task_id).exists() else None


def agent_task_complete(*, task_id: str, result: Any, processing_time_ms: int) -> bool:
    now = timezone.now()
    with transaction.atomic():
        done = AgentTask.objects.filter(task_id=task_id, status=Status.RUNNING).update(
            status=Status.COMPLETED,
            result=result,
            error="",
            finished_at=now,
            processing_time_ms=processing_time_ms,
            updated_at=now,
        )
        if done:
            _reply(task_id=task_id, type=AgentMessage.Type.RESPONSE, payload={"result": result})
    return bool(done)


def agent_task_fail(*, task_id: str, error: str, processing_time_ms: int | None = None, status: str = Status.FAILED) -> bool:
    now = timezone.now()
    with transaction.atomic():
        done = (
            AgentTask.objects.filter(task_id=task_id)
            .exclude(status__in=AgentTask.TERMINAL)
            .update(status=status, error=error[:4000], finished_at=now, processing_time_ms=processing_time_ms, updated_at=now)
        )
        if done:
            _reply(task_id=task_id, type=AgentMessage.Type.ERROR, payload={"error": error[:4000], "status": status})
    return bool(done)


def agent_task_retrying(*, task_id: str, reason: str) -> bool:
    now = timezone.now()
    return bool(
        AgentTask.objects.filter(task_id=task_id, status=Status.RUNNING).update(
            status=Status.QUEUED, error=f"retrying: {reason}"[:4000], queued_at=now, updated_at=now
        )
    )


def agent_task_cancel(*, task: AgentTask) -> bool:
    now = timezone.now()
    return bool(
        AgentTask.objects.filter(pk=task.pk, status__in=ACTIVE).update(
            status=Status.CANCELLED, finished_at=now, error="cancelled on request", updated_at=now
        )
    )


def _reply(*, task_id: str, type: str, payload: dict[str, Any]) -> None:
    task = AgentTask.objects.only("id", "tenant_id", "agent", "task_type", "priority", "trace_id").get(task_id=task_id)
    request = AgentMessage.objects.filter(task=task, type=AgentMessage.Type.REQUEST).order_by("created_at").first()
    AgentMessage.objects.create(
        tenant_id=task.tenant_id,
        from_agent=task.agent,
        to_agent=request.from_agent if request else ORCHESTRATOR,
        reply_to=request,
        type=type,
        intent=task.task_type,
        payload=payload,
        priority=task.priority,
        task=task,
        trace_id=task.trace_id,
        span_id=new_span_id(),
    )


@dataclass
class ReapPlan:
    redispatch: list[str] = field(default_factory=list)
    dead: list[str] = field(default_factory=list)


def tasks_reap(
    *,
    now: datetime,
    active_task_ids: set[str],
    queued_deadline: timedelta,
    running_grace: timedelta,
    max_dispatches: int,
) -> ReapPlan:
    """Find tasks nothing will finish: queued past the deadline (the broker lost the message) or
    running on no live worker (the worker died). Those with dispatches left go back to pending
    for the caller to dispatch again; the rest are marked dead. Returns task ids."""
    lost_in_queue = Q(status__in=(Status.PENDING, Status.QUEUED)) & Q(
        queued_at_or_created__lt=now - queued_deadline
    )
    orphaned = Q(status=Status.RUNNING, started_at__lt=now - running_grace)
    candidates = (
        AgentTask.objects.annotate(queued_at_or_created=Coalesce("queued_at", "created_at"))
        .filter(lost_in_queue | orphaned)
        .values_list("task_id", "status", "dispatches", "worker")
    )
    plan = ReapPlan()
    for task_id, status, dispatches, worker in candidates:
        task_id = str(task_id)
        if status == Status.RUNNING and task_id in active_task_ids:
            continue
        reason = (
            f"worker {worker or '?'} stopped running it" if status == Status.RUNNING else "the broker lost it"
        )
        if dispatches >= max_dispatches:
            if agent_task_fail(task_id=task_id, error=f"dead after {dispatches} dispatches: {reason}", status=Status.DEAD):
                plan.dead.append(task_id)
            continue
        moved = AgentTask.objects.filter(task_id=task_id, status=status).update(
            status=Status.PENDING, error=f"re-dispatched by the reaper: {reason}", updated_at=now
        )
        if moved:
            plan.redispatch.append(task_id)
    return plan
