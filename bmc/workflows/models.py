"""Workflows as data: a definition's versions, and each run with every step it took, its state,
input and output, so a run survives any process killed and resumes where it stood
(docs/workflows.md)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from bmc.core.models import TenantOwned
from bmc.jobs.models import AgentTask


class WorkflowDefinition(TenantOwned):
    """One version of a workflow: its steps as data. A version never changes; saving a changed
    definition makes the next version, and a run keeps the version it started on."""

    name = models.SlugField(_("name"), max_length=80)
    version = models.PositiveIntegerField(_("version"))
    spec = models.JSONField(
        _("spec"), help_text=_("start, steps (each with its kind), and optionally a JSON Schema of the input.")
    )
    description = models.CharField(_("description"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("workflow definition")
        verbose_name_plural = _("workflow definitions")
        ordering = ["name", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name", "version"], name="workflow_definition_version_once")
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class WorkflowRun(TenantOwned):
    class Status(models.TextChoices):
        RUNNING = "running", pgettext_lazy("workflow run status", "running")
        WAITING = "waiting", pgettext_lazy("workflow run status", "waiting (a timer, an event or a person)")
        COMPLETED = "completed", pgettext_lazy("workflow run status", "completed")
        FAILED = "failed", pgettext_lazy("workflow run status", "failed")
        CANCELLED = "cancelled", pgettext_lazy("workflow run status", "cancelled")

    TERMINAL = (Status.COMPLETED, Status.FAILED, Status.CANCELLED)

    definition = models.ForeignKey(
        WorkflowDefinition, on_delete=models.PROTECT, related_name="runs", verbose_name=_("definition")
    )
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.RUNNING, db_index=True)
    input = models.JSONField(_("input"), default=dict, blank=True)
    context = models.JSONField(
        _("context"),
        default=dict,
        blank=True,
        help_text=_("input, each finished step's output by name, and the run's event floor."),
    )
    error = models.TextField(_("error"), blank=True)
    trace_id = models.CharField(_("trace id"), max_length=64, blank=True)
    trigger = models.CharField(
        pgettext_lazy("workflow run", "trigger"),
        max_length=120,
        blank=True,
        help_text=_('What started it, e.g. "quote:12": one run per trigger.'),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("workflow run")
        verbose_name_plural = _("workflow runs")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "-created_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "trigger"], condition=~models.Q(trigger=""), name="workflow_run_once_per_trigger"
            )
        ]

    def __str__(self) -> str:
        return gettext("%(definition)s run %(id)s: %(status)s") % {
            "definition": self.definition,
            "id": self.pk,
            "status": self.get_status_display(),
        }


class WorkflowStep(TenantOwned):
    """A step as the run took it: visited again (a loop), it is a new row. The branches of a
    parallel step are rows of their own under it."""

    class Status(models.TextChoices):
        PENDING = "pending", pgettext_lazy("workflow step status", "pending")
        RUNNING = "running", pgettext_lazy("workflow step status", "running")
        WAITING = "waiting", pgettext_lazy("workflow step status", "waiting")
        DONE = "done", pgettext_lazy("workflow step status", "done")
        FAILED = "failed", pgettext_lazy("workflow step status", "failed")
        CANCELLED = "cancelled", pgettext_lazy("workflow step status", "cancelled")

    OPEN = (Status.PENDING, Status.RUNNING, Status.WAITING)

    run = models.ForeignKey(WorkflowRun, on_delete=models.CASCADE, related_name="steps", verbose_name=_("run"))
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="branches",
        verbose_name=_("parent"),
    )
    name = models.CharField(_("name"), max_length=160)
    kind = models.CharField(_("kind"), max_length=20)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.PENDING)
    input = models.JSONField(_("input"), default=dict, blank=True)
    output = models.JSONField(_("output"), null=True, blank=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    agent_task = models.ForeignKey(
        AgentTask, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("agent task")
    )
    not_before = models.DateTimeField(
        _("not before"), null=True, blank=True, help_text=_("A timer: not advanced before this.")
    )
    deadline = models.DateTimeField(
        _("deadline"), null=True, blank=True, help_text=_("Its timeout: what happens then is its spec's.")
    )
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("workflow step")
        verbose_name_plural = _("workflow steps")
        ordering = ["id"]
        indexes = [
            models.Index(fields=["status", "not_before"]),
            models.Index(fields=["status", "deadline"]),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind}): {self.get_status_display()}"
