"""Workflows over the API: definitions (checked, versioned), runs, an event for a run, cancel."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from agents.events import event_emit
from agents.workflows.definitions import DefinitionError, workflow_definition_save
from agents.workflows.engine import WorkflowError, workflow_run_cancel, workflow_start
from bmc.workflows.models import WorkflowDefinition, WorkflowRun, WorkflowStep

CONFLICT = OpenApiResponse(description="The run has already ended; the body says how.")


class DefinitionIn(serializers.Serializer):
    name = serializers.SlugField(max_length=80, help_text="The workflow's name; saving it again makes a new version.")
    spec = serializers.JSONField(
        help_text="start, steps (task, condition, parallel, delay, wait_event, approval), input."
    )
    description = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class DefinitionOut(serializers.ModelSerializer):
    class Meta:
        model = WorkflowDefinition
        fields = ("id", "name", "version", "description", "spec", "created_at")


class RunIn(serializers.Serializer):
    workflow = serializers.SlugField(max_length=80, help_text="A workflow's name: its latest version runs.")
    input = serializers.DictField(required=False, default=dict, help_text="What the run starts from.")


class StepOut(serializers.ModelSerializer):
    agent_task_id = serializers.UUIDField(source="agent_task.task_id", allow_null=True, default=None)

    class Meta:
        model = WorkflowStep
        fields = (
            "id",
            "name",
            "kind",
            "status",
            "attempts",
            "input",
            "output",
            "error",
            "agent_task_id",
            "not_before",
            "deadline",
            "created_at",
            "started_at",
            "finished_at",
        )


class StepWithBranchesOut(StepOut):
    branches = StepOut(many=True, read_only=True)

    class Meta(StepOut.Meta):
        fields = (*StepOut.Meta.fields, "branches")


class RunOut(serializers.ModelSerializer):
    workflow = serializers.CharField(source="definition.name")
    version = serializers.IntegerField(source="definition.version")
    steps = serializers.SerializerMethodField()

    class Meta:
        model = WorkflowRun
        fields = ("id", "workflow", "version", "status", "input", "error", "created_at", "finished_at", "steps")

    @extend_schema_field(StepWithBranchesOut(many=True))
    def get_steps(self, run: WorkflowRun) -> list[dict]:
        steps = run.steps.filter(parent=None).select_related("agent_task").prefetch_related("branches__agent_task")
        return StepWithBranchesOut(steps, many=True).data


def _run_detail(run_id: int) -> dict:
    run = WorkflowRun.objects.select_related("definition").get(pk=run_id)
    return RunOut(run).data


@extend_schema(
    tags=["workflows"],
    methods=["POST"],
    request=DefinitionIn,
    responses={
        201: DefinitionOut,
        400: OpenApiResponse(description="The definition does not validate: `fields.spec` lists every error, where."),
    },
)
@extend_schema(tags=["workflows"], methods=["GET"], responses={200: DefinitionOut(many=True)})
@api_view(["GET", "POST"])
def definitions_view(request: Request) -> Response:
    """GET: the latest version of each workflow. POST: save a definition, checked first; a changed
    one becomes the next version, runs already started keep theirs."""
    if request.method == "GET":
        latest: dict[str, WorkflowDefinition] = {}
        for definition in WorkflowDefinition.objects.filter(tenant=request.tenant).order_by("name", "-version"):
            latest.setdefault(definition.name, definition)
        versions = list(latest.values())
        return Response(DefinitionOut(versions, many=True).data)
    incoming = DefinitionIn(data=request.data)
    incoming.is_valid(raise_exception=True)
    data = incoming.validated_data
    try:
        definition = workflow_definition_save(
            tenant=request.tenant, name=data["name"], spec=data["spec"], description=data["description"]
        )
    except DefinitionError as error:
        raise serializers.ValidationError({"spec": error.errors}) from None
    return Response(DefinitionOut(definition).data, status=status.HTTP_201_CREATED)


@extend_schema(
    tags=["workflows"],
    request=RunIn,
    responses={
        201: inline_serializer("RunStarted", {"id": serializers.IntegerField(), "status": serializers.CharField()}),
        400: OpenApiResponse(description="No such workflow, or an input its definition does not take."),
    },
)
@api_view(["POST"])
def runs_view(request: Request) -> Response:
    """Start a run of a workflow's latest version; it goes on in the workers."""
    incoming = RunIn(data=request.data)
    incoming.is_valid(raise_exception=True)
    data = incoming.validated_data
    try:
        run = workflow_start(
            tenant=request.tenant, name=data["workflow"], input=data["input"], trace_id=request._request.trace_id
        )
    except WorkflowError as error:
        field = "workflow" if error.errors[0].startswith("workflow:") else "input"
        raise serializers.ValidationError({field: error.errors}) from None
    return Response({"id": run.pk, "status": run.status}, status=status.HTTP_201_CREATED)


def _tenant_run(request: Request, run_id: int) -> WorkflowRun:
    return get_object_or_404(WorkflowRun, pk=run_id, tenant=request.tenant)


def _ended(run: WorkflowRun) -> Response:
    message = f"The run has already ended: {run.status}{f' ({run.error})' if run.error else ''}."
    return Response({"error": {"code": "conflict", "message": message}}, status=status.HTTP_409_CONFLICT)


@extend_schema(tags=["workflows"], responses={200: RunOut, 404: OpenApiResponse(description="No such run here.")})
@api_view(["GET"])
def run_detail_view(request: Request, run_id: int) -> Response:
    """A run: its status and each step it took, with its state, input, output, attempts and times."""
    return Response(_run_detail(_tenant_run(request, run_id).pk))


class RunEventIn(serializers.Serializer):
    type = serializers.RegexField(r"^[a-z_]+\.[a-z_]+$", max_length=80, help_text="e.g. payment.received")
    data = serializers.DictField(required=False, default=dict)


@extend_schema(
    tags=["workflows"],
    request=RunEventIn,
    responses={
        202: inline_serializer("RunEventAccepted", {"event_id": serializers.IntegerField()}),
        409: CONFLICT,
    },
)
@api_view(["POST"])
def run_events_view(request: Request, run_id: int) -> Response:
    """An event for this run: a step waiting for its type goes on with its data. Recorded as a
    domain event (subject "workflow_run:<id>"), so subscriptions get it too."""
    run = _tenant_run(request, run_id)
    incoming = RunEventIn(data=request.data)
    incoming.is_valid(raise_exception=True)
    if run.status in WorkflowRun.TERMINAL:
        return _ended(run)
    event = event_emit(
        tenant=request.tenant,
        type=incoming.validated_data["type"],
        subject=f"workflow_run:{run.pk}",
        data=incoming.validated_data["data"],
    )
    return Response({"event_id": event.pk}, status=status.HTTP_202_ACCEPTED)


@extend_schema(tags=["workflows"], request=None, responses={200: RunOut, 409: CONFLICT})
@api_view(["POST"])
def run_cancel_view(request: Request, run_id: int) -> Response:
    """Cancel a run that has not ended: its waiting and running steps stop."""
    run = _tenant_run(request, run_id)
    if not workflow_run_cancel(run=run, reason="cancelled over the API"):
        run.refresh_from_db()
        return _ended(run)
    return Response(_run_detail(run.pk))
