"""Workflows as data: a definition's versions, and each run with every step it took, its state,
input and output, so a run survives any process killed and resumes where it stood
(docs/workflows.md)."""

from __future__ import annotations

from django.db import models

from bmc.core.models import TenantOwned
from bmc.jobs.models import AgentTask


class WorkflowDefinition(TenantOwned):
    """One version of a workflow: its steps as data. A version never changes; saving a changed
    definition makes the next version, and a run keeps the version it started on."""

    name = models.SlugField(max_length=80)
    version = models.PositiveIntegerField()
    spec = models.JSONField(help_text="start, steps (each with its kind), and optionally a JSON Schema of the input.")
    description = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name", "version"], name="workflow_definition_version_once")
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class WorkflowRun(TenantOwned):
    class Status(models.TextChoices):
        RUNNING = "running", "running"
        WAITING = "waiting", "waiting (a timer, an event or a person)"
        COMPLETED = "completed", "completed"
        FAILED = "failed", "failed"
        CANCELLED = "cancelled", "cancelled"

    TERMINAL = (Status.COMPLETED, Status.FAILED, Status.CANCELLED)

    definition = models.ForeignKey(WorkflowDefinition, on_delete=models.PROTECT, related_name="runs")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RUNNING, db_index=True)
    input = models.JSONField(default=dict, blank=True)
    context = models.JSONField(
        default=dict, blank=True, help_text="input, each finished step's output by name, and the run's event floor."
    )
    error = models.TextField(blank=True)
    trace_id = models.CharField(max_length=64, blank=True)
    trigger = models.CharField(
        max_length=120, blank=True, help_text='What started it, e.g. "quote:12": one run per trigger.'
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "-created_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "trigger"], condition=~models.Q(trigger=""), name="workflow_run_once_per_trigger"
            )
        ]

    def __str__(self) -> str:
        return f"{self.definition} run {self.pk}: {self.status}"


class WorkflowStep(TenantOwned):
    """A step as the run took it: visited again (a loop), it is a new row. The branches of a
    parallel step are rows of their own under it."""

    class Status(models.TextChoices):
        PENDING = "pending", "pending"
        RUNNING = "running", "running"
        WAITING = "waiting", "waiting"
        DONE = "done", "done"
        FAILED = "failed", "failed"
        CANCELLED = "cancelled", "cancelled"

    OPEN = (Status.PENDING, Status.RUNNING, Status.WAITING)

    run = models.ForeignKey(WorkflowRun, on_delete=models.CASCADE, related_name="steps")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="branches")
    name = models.CharField(max_length=160)
    kind = models.CharField(max_length=20)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    input = models.JSONField(default=dict, blank=True)
    output = models.JSONField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    agent_task = models.ForeignKey(AgentTask, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    not_before = models.DateTimeField(null=True, blank=True, help_text="A timer: not advanced before this.")
    deadline = models.DateTimeField(null=True, blank=True, help_text="Its timeout: what happens then is its spec's.")
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["status", "not_before"]),
            models.Index(fields=["status", "deadline"]),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind}): {self.status}"
