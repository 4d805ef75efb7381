"""Synchronisation with the company's Google Sheets, MercadoLibre and Shopify: each source's
position and circuit breaker, and each run with what it read, changed and refused
(docs/datasync.md)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from bmc.core.models import TenantOwned


class Source(models.TextChoices):
    SHEETS = "sheets", "Google Sheets"
    MERCADOLIBRE = "mercadolibre", "MercadoLibre"
    SHOPIFY = "shopify", "Shopify"


class SyncSource(TenantOwned):
    """One source of one tenant: where its incremental reads stand, and its circuit breaker (a
    source that keeps failing is not called until `open_until`)."""

    source = models.CharField(max_length=20, choices=Source.choices)
    cursor = models.JSONField(default=dict, blank=True, help_text="Where each incremental read stands.")
    failures = models.PositiveIntegerField(default=0, help_text="Runs failed in a row.")
    open_until = models.DateTimeField(
        null=True, blank=True, help_text="Circuit open: the source is not called before this time."
    )
    last_error = models.TextField(blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    secrets = models.TextField(
        blank=True, help_text="Tokens the source handed out, encrypted (agents/datasync/secrets.py)."
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "source"], name="sync_source_once_per_tenant")]

    def __str__(self) -> str:
        return self.get_source_display()

    @property
    def circuit_open(self) -> bool:
        return self.open_until is not None and self.open_until > timezone.now()


class SyncRun(TenantOwned):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        HELD = "held", "Held for approval"
        FAILED = "failed", "Failed"

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    source = models.CharField(max_length=20, choices=Source.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    trigger = models.CharField(max_length=20, default="api", help_text="schedule, api, admin or approval")
    read = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    refused = models.PositiveIntegerField(default=0)
    refusals = models.JSONField(default=list, blank=True, help_text="Each refused record: where it is and why.")
    api_calls = models.PositiveIntegerField(default=0, help_text="Requests made to the source's API.")
    detail = models.JSONField(default=dict, blank=True, help_text="Counts of each part of the run.")
    held = models.JSONField(null=True, blank=True, help_text="What waits for a person's approval, and why.")
    error = models.TextField(blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "source", "-created_at"])]
        constraints = [
            # one run of a source at a time, by the database: two "run now" at once are one run
            models.UniqueConstraint(
                fields=["tenant", "source"],
                condition=models.Q(status__in=["queued", "running"]),
                name="sync_run_one_active_per_source",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_source_display()} #{self.pk} ({self.status})"


class SyncLink(TenantOwned):
    """A record of ours on the other side (a quote's row in the CRM sheet, a product's listing):
    its id there and the checksum of what was last written."""

    source = models.CharField(max_length=20, choices=Source.choices)
    kind = models.CharField(max_length=20, help_text="quotes, orders, leads, collections, listing...")
    local_id = models.CharField(max_length=60)
    remote_id = models.CharField(max_length=100, blank=True)
    checksum = models.CharField(max_length=64)
    synced_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "source", "kind", "local_id"], name="sync_link_once_per_record")
        ]

    def __str__(self) -> str:
        return f"{self.source} {self.kind} {self.local_id}"


class MarketQuestion(TenantOwned):
    """A question a buyer asked on a marketplace listing: stored as it came before anything else,
    answered by the agents when the catalog can, otherwise left to staff (their answer is posted
    back from the admin)."""

    class Status(models.TextChoices):
        NEW = "new", "New"
        ANSWERING = "answering", "Answer being posted"
        ANSWERED = "answered", "Answered"
        STAFF = "staff", "Waits for staff"
        CLOSED = "closed", "Answered or closed on the marketplace"

    source = models.CharField(max_length=20, choices=Source.choices)
    question_id = models.CharField(max_length=40)
    item_id = models.CharField(max_length=40, blank=True)
    sku = models.CharField(max_length=60, blank=True)
    text = models.TextField()
    raw = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.NEW)
    answer = models.TextField(
        blank=True, help_text="What is (or was) posted back; staff write it for a question left to them."
    )
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    error = models.TextField(blank=True, help_text="Why the marketplace refused the last answer.")
    asked_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["tenant", "source", "question_id"], name="market_question_once")]

    def __str__(self) -> str:
        return f"{self.get_source_display()} question {self.question_id}"
