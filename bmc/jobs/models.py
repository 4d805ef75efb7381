"""The jobs' records: every task an agent is asked to do (AgentTask, the source of truth of its
status), and the messages between agents about it (AgentMessage, an audit log)."""

from __future__ import annotations

import uuid

from django.db import models

from bmc.core.models import TenantOwned
from bmc.queues import ALL_QUEUES, DEFAULT_PRIORITY, Priority


class AgentTask(TenantOwned):
    """The task record: the database, not the broker, is the source of truth of every task."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"
        DEAD = "dead", "Dead"

    TERMINAL = (Status.COMPLETED, Status.FAILED, Status.CANCELLED, Status.DEAD)

    task_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    task_type = models.CharField(max_length=80)
    agent = models.CharField(max_length=40)
    queue = models.CharField(max_length=40, choices=[(q, q) for q in ALL_QUEUES])
    payload = models.JSONField(default=dict, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    priority = models.CharField(max_length=10, choices=[(p.value, p.value) for p in Priority], default=DEFAULT_PRIORITY)
    required_capabilities = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0, help_text="Times a worker started it.")
    dispatches = models.PositiveIntegerField(default=0, help_text="Times it was sent to the broker.")
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    trace_id = models.CharField(max_length=64, db_index=True)
    worker = models.CharField(max_length=200, blank=True, help_text="Hostname of the worker that ran it last.")
    created_at = models.DateTimeField(auto_now_add=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    processing_time_ms = models.PositiveIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "core_agenttask"  # moved from bmc.core: its table and indexes kept as they were
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "queued_at"], name="core_agentt_status_c0859d_idx"),
            models.Index(fields=["tenant", "-created_at"], name="core_agentt_tenant__4a8206_idx"),
            models.Index(fields=["agent", "status"], name="core_agentt_agent_f490ec_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.task_type} {self.task_id} ({self.status})"

    @property
    def is_terminal(self) -> bool:
        return self.status in self.TERMINAL


class AgentMessage(TenantOwned):
    """Audit log of messages between agents. Written once, never edited."""

    class Type(models.TextChoices):
        REQUEST = "request", "Request"
        RESPONSE = "response", "Response"
        EVENT = "event", "Event"
        ERROR = "error", "Error"

    message_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    from_agent = models.CharField(max_length=40)
    to_agent = models.CharField(max_length=40)
    reply_to = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replies")
    type = models.CharField(max_length=20, choices=Type.choices)
    intent = models.CharField(max_length=80, help_text="What the message asks or tells, e.g. a task type.")
    payload = models.JSONField(default=dict, blank=True)
    priority = models.CharField(max_length=10, choices=[(p.value, p.value) for p in Priority], default=DEFAULT_PRIORITY)
    timeout_ms = models.PositiveIntegerField(null=True, blank=True)
    task = models.ForeignKey(AgentTask, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages")
    trace_id = models.CharField(max_length=64, db_index=True)
    span_id = models.CharField(max_length=32)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "core_agentmessage"  # moved from bmc.core: its table and indexes kept as they were
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "-created_at"], name="core_agentm_tenant__0bb9a8_idx")]

    def __str__(self) -> str:
        return f"{self.type} {self.from_agent} -> {self.to_agent}: {self.intent}"
