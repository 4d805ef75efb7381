from __future__ import annotations

import time
from datetime import timedelta

from django.db.models import Avg, Count, Max
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from agents.conversations.recovery import task_cancel
from bmc import health
from bmc.api.errors import broker_unavailable_response
from bmc.api.serializers import (
    AgentSerializer,
    QueueSerializer,
    TaskAcceptedSerializer,
    TaskSerializer,
    TaskSubmitSerializer,
)
from bmc.jobs.models import AgentTask
from bmc.jobs.records import REPLAYABLE, agent_task_withdraw_unqueued
from bmc.jobs.registry import AGENTS, TASK_TYPES
from bmc.jobs.router import RoutingError
from bmc.jobs.submit import task_replay, task_submit, tasks_replay

STARTED_AT = time.time()


@extend_schema(tags=["health"], responses={200: OpenApiResponse(description="The web process answers.")})
@api_view(["GET"])
@authentication_classes([])
@permission_classes([AllowAny])
def health_view(request: Request) -> Response:
    return Response({"status": "ok", "uptime_s": round(time.time() - STARTED_AT, 1)})


@extend_schema(
    tags=["health"],
    responses={
        200: OpenApiResponse(description="All up."),
        503: OpenApiResponse(description="Something is down; `down` names it."),
    },
)
@api_view(["GET"])
@authentication_classes([])
@permission_classes([AllowAny])
def health_detailed_view(request: Request) -> Response:
    report = health.health_detailed()
    return Response(report, status=200 if report["status"] == "ok" else 503)


def _agent_payload(spec, workers: list[str]) -> dict:
    return {
        "id": spec.id,
        "name": spec.name,
        "queue": spec.queue,
        "capabilities": sorted(spec.capabilities),
        "intents": sorted(spec.intents),
        "description": spec.description,
        "workers": workers,
        "status": "up" if workers else "down",
    }


def _workers_or_empty() -> dict[str, list[str]]:
    try:
        return health.queue_workers()
    except Exception:
        return {}


@extend_schema(
    tags=["orchestrator"],
    responses=inline_serializer(
        "OrchestratorStatus",
        {
            "status": serializers.CharField(),
            "agents": serializers.DictField(),
            "tasks": serializers.DictField(),
            "queues": serializers.DictField(),
            "uptime_s": serializers.FloatField(),
        },
    ),
)
@api_view(["GET"])
def orchestrator_status_view(request: Request) -> Response:
    workers = _workers_or_empty()
    counts = dict(
        AgentTask.objects.filter(tenant=request.tenant).values_list("status").annotate(n=Count("id")).order_by()
    )
    try:
        depths = health.queue_depths()
    except Exception:
        depths = {queue: None for queue in workers}
    agents_up = sum(1 for spec in AGENTS.values() if workers.get(spec.queue))
    return Response(
        {
            "status": "ok" if agents_up == len(AGENTS) else "degraded",
            "agents": {"total": len(AGENTS), "up": agents_up},
            "tasks": {s: counts.get(s, 0) for s in AgentTask.Status.values},
            "queues": depths,
            "uptime_s": round(time.time() - STARTED_AT, 1),
        }
    )


@extend_schema(tags=["orchestrator"], responses=AgentSerializer(many=True))
@api_view(["GET"])
def agents_view(request: Request) -> Response:
    workers = _workers_or_empty()
    return Response([_agent_payload(spec, workers.get(spec.queue, [])) for spec in AGENTS.values()])


@extend_schema(
    tags=["orchestrator"], responses={200: AgentSerializer, 404: OpenApiResponse(description="Unknown agent.")}
)
@api_view(["GET"])
def agent_health_view(request: Request, agent_id: str) -> Response:
    spec = AGENTS.get(agent_id)
    if spec is None:
        raise NotFound(f"Unknown agent '{agent_id}'. Agents: {', '.join(AGENTS)}.")
    workers = _workers_or_empty().get(spec.queue, [])
    since = timezone.now() - timedelta(hours=1)
    recent = AgentTask.objects.filter(tenant=request.tenant, agent=spec.id, created_at__gte=since)
    by_status = dict(recent.values_list("status").annotate(n=Count("id")).order_by())
    timing = recent.filter(status=AgentTask.Status.COMPLETED).aggregate(
        avg_ms=Avg("processing_time_ms"), max_ms=Max("processing_time_ms"), last=Max("finished_at")
    )
    try:
        depth = health.queue_depths()[spec.queue]
    except Exception:
        depth = None
    return Response(
        {
            **_agent_payload(spec, workers),
            "queue_depth": depth,
            "last_hour": {
                "by_status": by_status,
                "avg_processing_ms": round(timing["avg_ms"], 1) if timing["avg_ms"] is not None else None,
                "max_processing_ms": timing["max_ms"],
                "last_completed_at": timing["last"],
            },
        }
    )


@extend_schema(tags=["orchestrator"], responses=QueueSerializer(many=True))
@api_view(["GET"])
def queues_view(request: Request) -> Response:
    try:
        depths = health.queue_depths()
    except Exception as exc:
        return Response(
            {"error": {"code": "broker_unavailable", "message": f"The broker did not answer: {exc}"}}, status=503
        )
    workers = _workers_or_empty()
    return Response([{"name": q, "depth": depths[q], "workers": workers.get(q, [])} for q in depths])


@extend_schema(
    tags=["tasks"],
    request=TaskSubmitSerializer,
    responses={
        202: TaskAcceptedSerializer,
        400: OpenApiResponse(description="Invalid task; the message says which field and what is allowed."),
    },
)
@api_view(["POST"])
def tasks_view(request: Request) -> Response:
    serializer = TaskSubmitSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    try:
        task = task_submit(tenant=request.tenant, trace_id=request._request.trace_id, **serializer.validated_data)
    except RoutingError as exc:
        raise serializers.ValidationError({"required_capabilities": [str(exc)]}) from None
    if task.status == AgentTask.Status.PENDING and agent_task_withdraw_unqueued(task=task):
        return broker_unavailable_response()
    return Response(
        {"task_id": task.task_id, "status": task.status, "agent_id": task.agent}, status=status.HTTP_202_ACCEPTED
    )


def _tenant_task(request: Request, task_id) -> AgentTask:
    return get_object_or_404(AgentTask, tenant=request.tenant, task_id=task_id)


@extend_schema(
    tags=["tasks"], responses={200: TaskSerializer, 404: OpenApiResponse(description="No such task for this tenant.")}
)
@api_view(["GET"])
def task_detail_view(request: Request, task_id) -> Response:
    return Response(TaskSerializer(_tenant_task(request, task_id)).data)


@extend_schema(
    tags=["tasks"],
    request=None,
    responses={200: TaskSerializer, 409: OpenApiResponse(description="The task already finished.")},
)
@api_view(["POST"])
def task_cancel_view(request: Request, task_id) -> Response:
    task = _tenant_task(request, task_id)
    refused = task_cancel_or_conflict(task)
    if refused:
        return refused
    task.refresh_from_db()
    return Response(TaskSerializer(task).data)


def task_cancel_or_conflict(task: AgentTask) -> Response | None:
    """Cancel the task; a 409 saying its status when it has already finished."""
    if task_cancel(task=task):
        return None
    task.refresh_from_db()
    return _conflict(f"Task is already {task.status}; only pending, queued or running tasks can be cancelled.")


def _conflict(message: str) -> Response:
    return Response({"error": {"code": "conflict", "message": message}}, status=status.HTTP_409_CONFLICT)


def _replayed_by(request: Request) -> str:
    """Who retried, for the task's audit trail: the API key, by its name."""
    return f"api key {request.auth.name}"


@extend_schema(
    tags=["tasks"],
    operation_id="api_v1_tasks_retry_create",
    request=None,
    responses={
        202: TaskSerializer,
        404: OpenApiResponse(description="No such task for this tenant."),
        409: OpenApiResponse(description="The task is not failed or dead (it is waiting, running, done or cancelled)."),
    },
)
@api_view(["POST"])
def task_retry_view(request: Request, task_id) -> Response:
    """A failed or dead task sent again, with a fresh budget of attempts and dispatches (its
    attempts so far are kept). What it did before it died is not done twice: the agents' own
    once-only keys hold for the replay too. Retried twice at once, it runs once: the second
    answer is 409."""
    task = _tenant_task(request, task_id)
    if not task_replay(task=task, requested_by="api", replayed_by=_replayed_by(request)):
        task.refresh_from_db()
        if task.status in REPLAYABLE:
            return _conflict(f"Task type '{task.task_type}' is taken by no agent any more: it cannot be retried.")
        return _conflict(f"Task is {task.status}; only failed or dead tasks can be retried.")
    task.refresh_from_db()
    return Response(TaskSerializer(task).data, status=status.HTTP_202_ACCEPTED)


# A filtered retry sends at most this many tasks per call; `remaining` tells the caller to go on.
RETRY_LIMIT_MAX = 500


class TasksRetryFilter(serializers.Serializer):
    status = serializers.ListField(
        child=serializers.ChoiceField(choices=list(REPLAYABLE)),
        min_length=1,
        required=False,
        help_text="Tasks in these statuses: `dead` (the default), `failed`, or both.",
    )
    agent = serializers.ChoiceField(choices=sorted(AGENTS), required=False, help_text="Only this agent's tasks.")
    # any task type, the agents' own too (AnyTaskTypeEnum in the schema: SPECTACULAR_SETTINGS)
    task_type = serializers.ChoiceField(
        choices=sorted(TASK_TYPES), required=False, help_text="Only this task type, e.g. `outbound.send_message`."
    )
    since = serializers.DateTimeField(
        required=False, help_text="Only tasks that ended at or after this moment (RFC 3339, with its offset)."
    )
    until = serializers.DateTimeField(
        required=False, help_text="Only tasks that ended before this moment (RFC 3339, with its offset)."
    )
    limit = serializers.IntegerField(
        required=False,
        default=100,
        min_value=1,
        max_value=RETRY_LIMIT_MAX,
        help_text=f"At most this many, those that ended first first (default 100, at most {RETRY_LIMIT_MAX}).",
    )


TasksRetried = inline_serializer(
    "TasksRetried",
    {
        "replayed": serializers.IntegerField(min_value=0, help_text="How many tasks were sent again."),
        "task_ids": serializers.ListField(child=serializers.UUIDField(), help_text="The tasks sent again."),
        "remaining": serializers.IntegerField(
            min_value=0, help_text="Tasks that still match the filters (over the limit): call again for them."
        ),
    },
)


@extend_schema(
    tags=["tasks"],
    operation_id="api_v1_tasks_retry_filtered_create",
    request=TasksRetryFilter,
    responses={
        202: TasksRetried,
        400: OpenApiResponse(description="A filter is not valid; the message says which and what is allowed."),
    },
)
@api_view(["POST"])
def tasks_retry_view(request: Request) -> Response:
    """The company's dead (or failed) tasks that match the filters sent again, each as
    `POST /api/v1/tasks/{id}/retry` would: after an outage, the dead letters of that hour at once."""
    query = TasksRetryFilter(data=request.data)
    query.is_valid(raise_exception=True)
    wanted = query.validated_data
    matching = AgentTask.objects.filter(
        tenant=request.tenant, status__in=wanted.get("status") or [AgentTask.Status.DEAD]
    )
    for field, lookup in (
        ("agent", "agent"),
        ("task_type", "task_type"),
        ("since", "finished_at__gte"),
        ("until", "finished_at__lt"),
    ):
        if field in wanted:
            matching = matching.filter(**{lookup: wanted[field]})
    chosen = list(matching.order_by("finished_at", "pk")[: wanted["limit"]])
    replayed = tasks_replay(tasks=chosen, requested_by="api", replayed_by=_replayed_by(request))
    return Response(
        {"replayed": len(replayed), "task_ids": [t.task_id for t in replayed], "remaining": matching.count()},
        status=status.HTTP_202_ACCEPTED,
    )
