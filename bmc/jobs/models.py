"""The jobs' records: every task an agent is asked to do (AgentTask, the source of truth of its
status), every attempt of it that did not succeed (TaskAttempt), and the messages between agents
about it (AgentMessage, an audit log)."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from bmc.core.models import TenantOwned
from bmc.queues import ALL_QUEUES, DEFAULT_PRIORITY, Priority

# Each priority (bmc/queues.py, no Django there) as staff read it.
PRIORITY_LABELS = {
    Priority.LOW.value: pgettext_lazy("priority", "low"),
    Priority.NORMAL.value: pgettext_lazy("priority", "normal"),
    Priority.HIGH.value: pgettext_lazy("priority", "high"),
    Priority.CRITICAL.value: pgettext_lazy("priority", "critical"),
}
PRIORITY_CHOICES = [(p.value, PRIORITY_LABELS.get(p.value, p.value)) for p in Priority]


class AgentTask(TenantOwned):
    """The task record: the database, not the broker, is the source of truth of every task."""

    class Status(models.TextChoices):
        PENDING = "pending", pgettext_lazy("agent task status", "Pending")
        HELD = "held", pgettext_lazy("agent task status", "Held (its queue is over its limit)")
        QUEUED = "queued", pgettext_lazy("agent task status", "Queued")
        RUNNING = "running", pgettext_lazy("agent task status", "Running")
        COMPLETED = "completed", pgettext_lazy("agent task status", "Completed")
        FAILED = "failed", pgettext_lazy("agent task status", "Failed")
        CANCELLED = "cancelled", pgettext_lazy("agent task status", "Cancelled")
        DEAD = "dead", pgettext_lazy("agent task status", "Dead")

    TERMINAL = (Status.COMPLETED, Status.FAILED, Status.CANCELLED, Status.DEAD)

    task_id = models.UUIDField(_("task id"), default=uuid.uuid4, unique=True, editable=False)
    task_type = models.CharField(_("task type"), max_length=80)
    agent = models.CharField(_("agent"), max_length=40)
    queue = models.CharField(_("queue"), max_length=40, choices=[(q, q) for q in ALL_QUEUES])
    payload = models.JSONField(_("payload"), default=dict, blank=True)
    metadata = models.JSONField(_("metadata"), default=dict, blank=True)
    priority = models.CharField(_("priority"), max_length=10, choices=PRIORITY_CHOICES, default=DEFAULT_PRIORITY)
    required_capabilities = models.JSONField(_("required capabilities"), default=list, blank=True)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(_("attempts"), default=0, help_text=_("Times a worker started it."))
    dispatches = models.PositiveIntegerField(
        _("dispatches"), default=0, help_text=_("Times it was sent to the broker.")
    )
    replays = models.PositiveIntegerField(
        _("replays"),
        default=0,
        help_text=_("Times someone retried it after it failed or died; each starts its attempts and dispatches anew."),
    )
    result = models.JSONField(_("result"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)
    trace_id = models.CharField(_("trace id"), max_length=64, db_index=True)
    worker = models.CharField(
        _("worker"), max_length=200, blank=True, help_text=_("Hostname of the worker that ran it last.")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    queued_at = models.DateTimeField(_("queued at"), null=True, blank=True)
    held_until = models.DateTimeField(
        _("held until"),
        null=True,
        blank=True,
        help_text=_("Held work is sent from this moment on (a company over its messages of the day)."),
    )
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    processing_time_ms = models.PositiveIntegerField(_("processing time ms"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("agent task")
        verbose_name_plural = _("agent tasks")
        db_table = "core_agenttask"  # moved from bmc.core: its table and indexes kept as they were
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "queued_at"], name="core_agentt_status_c0859d_idx"),
            models.Index(fields=["tenant", "-created_at"], name="core_agentt_tenant__4a8206_idx"),
            models.Index(fields=["agent", "status"], name="core_agentt_agent_f490ec_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.task_type} {self.task_id} ({self.get_status_display()})"

    @property
    def is_terminal(self) -> bool:
        return self.status in self.TERMINAL


class TaskAttempt(models.Model):
    """An attempt of a task that did not succeed, and why: written when it failed, was retried,
    lost its worker or died, never on success (a completed task pays no extra write). The task
    keeps only its last error; these keep every one, across retries and replays."""

    class Outcome(models.TextChoices):
        RETRIED = "retried", pgettext_lazy("task attempt outcome", "Retried")
        LOST = "lost", pgettext_lazy("task attempt outcome", "Worker lost")
        FAILED = "failed", pgettext_lazy("task attempt outcome", "Failed")
        DEAD = "dead", pgettext_lazy("task attempt outcome", "Dead")

    task = models.ForeignKey(AgentTask, on_delete=models.CASCADE, related_name="attempt_log", verbose_name=_("task"))
    replay = models.PositiveIntegerField(
        _("replay"), default=0, help_text=_("0 for the original run, 1 after the first retry by hand, and so on.")
    )
    attempt = models.PositiveIntegerField(_("attempt"), help_text=_("0 if it never reached a worker."))
    worker = models.CharField(_("worker"), max_length=200, blank=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), auto_now_add=True)
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome.choices)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("task attempt")
        verbose_name_plural = _("task attempts")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.task_id} #{self.replay}.{self.attempt} {self.get_outcome_display()}"


class AgentMessage(TenantOwned):
    """Audit log of messages between agents. Written once, never edited."""

    class Type(models.TextChoices):
        REQUEST = "request", pgettext_lazy("agent message type", "Request")
        RESPONSE = "response", pgettext_lazy("agent message type", "Response")
        EVENT = "event", pgettext_lazy("agent message type", "Event")
        ERROR = "error", pgettext_lazy("agent message type", "Error")

    message_id = models.UUIDField(_("message id"), default=uuid.uuid4, unique=True, editable=False)
    from_agent = models.CharField(_("from agent"), max_length=40)
    to_agent = models.CharField(_("to agent"), max_length=40)
    reply_to = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replies", verbose_name=_("reply to")
    )
    type = models.CharField(_("type"), max_length=20, choices=Type.choices)
    intent = models.CharField(
        _("intent"), max_length=80, help_text=_("What the message asks or tells, e.g. a task type.")
    )
    payload = models.JSONField(_("payload"), default=dict, blank=True)
    priority = models.CharField(_("priority"), max_length=10, choices=PRIORITY_CHOICES, default=DEFAULT_PRIORITY)
    timeout_ms = models.PositiveIntegerField(_("timeout ms"), null=True, blank=True)
    task = models.ForeignKey(
        AgentTask,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="messages",
        verbose_name=_("task"),
    )
    trace_id = models.CharField(_("trace id"), max_length=64, db_index=True)
    span_id = models.CharField(_("span id"), max_length=32)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("agent message")
        verbose_name_plural = _("agent messages")
        db_table = "core_agentmessage"  # moved from bmc.core: its table and indexes kept as they were
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "-created_at"], name="core_agentm_tenant__0bb9a8_idx")]

    def __str__(self) -> str:
        return f"{self.get_type_display()} {self.from_agent} -> {self.to_agent}: {self.intent}"
