"""Synchronisation with the company's Google Sheets, MercadoLibre and Shopify: each source's
position and circuit breaker, and each run with what it read, changed and refused
(docs/datasync.md)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from bmc.core.models import TenantOwned


class Source(models.TextChoices):
    SHEETS = "sheets", "Google Sheets"
    MERCADOLIBRE = "mercadolibre", "MercadoLibre"
    SHOPIFY = "shopify", "Shopify"


class SyncSource(TenantOwned):
    """One source of one tenant: where its incremental reads stand, and its circuit breaker (a
    source that keeps failing is not called until `open_until`)."""

    source = models.CharField(pgettext_lazy("sync", "source"), max_length=20, choices=Source.choices)
    cursor = models.JSONField(_("cursor"), default=dict, blank=True, help_text=_("Where each incremental read stands."))
    failures = models.PositiveIntegerField(_("failures"), default=0, help_text=_("Runs failed in a row."))
    open_until = models.DateTimeField(
        _("open until"),
        null=True,
        blank=True,
        help_text=_("Circuit open: the source is not called before this time."),
    )
    last_error = models.TextField(_("last error"), blank=True)
    last_success_at = models.DateTimeField(_("last success at"), null=True, blank=True)
    secrets = models.TextField(
        _("secrets"), blank=True, help_text=_("Tokens the source handed out, encrypted (agents/datasync/secrets.py).")
    )

    class Meta:
        verbose_name = _("sync source")
        verbose_name_plural = _("sync sources")
        constraints = [models.UniqueConstraint(fields=["tenant", "source"], name="sync_source_once_per_tenant")]

    def __str__(self) -> str:
        return self.get_source_display()

    @property
    def circuit_open(self) -> bool:
        return self.open_until is not None and self.open_until > timezone.now()


class SyncRun(TenantOwned):
    class Status(models.TextChoices):
        QUEUED = "queued", pgettext_lazy("sync run status", "Queued")
        RUNNING = "running", pgettext_lazy("sync run status", "Running")
        SUCCEEDED = "succeeded", pgettext_lazy("sync run status", "Succeeded")
        HELD = "held", pgettext_lazy("sync run status", "Held for approval")
        FAILED = "failed", pgettext_lazy("sync run status", "Failed")

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    source = models.CharField(pgettext_lazy("sync", "source"), max_length=20, choices=Source.choices)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.QUEUED)
    trigger = models.CharField(
        pgettext_lazy("sync run", "trigger"),
        max_length=20,
        default="api",
        help_text=_("schedule, api, admin or approval"),
    )
    read = models.PositiveIntegerField(pgettext_lazy("records", "read"), default=0)
    created = models.PositiveIntegerField(pgettext_lazy("records", "created"), default=0)
    updated = models.PositiveIntegerField(pgettext_lazy("records", "updated"), default=0)
    unchanged = models.PositiveIntegerField(pgettext_lazy("records", "unchanged"), default=0)
    refused = models.PositiveIntegerField(pgettext_lazy("records", "refused"), default=0)
    refusals = models.JSONField(
        _("refusals"), default=list, blank=True, help_text=_("Each refused record: where it is and why.")
    )
    api_calls = models.PositiveIntegerField(
        _("api calls"), default=0, help_text=_("Requests made to the source's API.")
    )
    detail = models.JSONField(_("detail"), default=dict, blank=True, help_text=_("Counts of each part of the run."))
    held = models.JSONField(
        _("held"), null=True, blank=True, help_text=_("What waits for a person's approval, and why.")
    )
    error = models.TextField(_("error"), blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("approved by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("sync run")
        verbose_name_plural = _("sync runs")
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
        return f"{self.get_source_display()} #{self.pk} ({self.get_status_display()})"


class SyncLink(TenantOwned):
    """A record of ours on the other side (a quote's row in the CRM sheet, a product's listing):
    its id there and the checksum of what was last written."""

    source = models.CharField(pgettext_lazy("sync", "source"), max_length=20, choices=Source.choices)
    kind = models.CharField(_("kind"), max_length=20, help_text=_("quotes, orders, leads, collections, listing..."))
    local_id = models.CharField(_("local id"), max_length=60)
    remote_id = models.CharField(_("remote id"), max_length=100, blank=True)
    checksum = models.CharField(_("checksum"), max_length=64)
    synced_at = models.DateTimeField(_("synced at"), default=timezone.now)

    class Meta:
        verbose_name = _("sync link")
        verbose_name_plural = _("sync links")
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
        NEW = "new", pgettext_lazy("market question status", "New")
        ANSWERING = "answering", pgettext_lazy("market question status", "Answer being posted")
        ANSWERED = "answered", pgettext_lazy("market question status", "Answered")
        STAFF = "staff", pgettext_lazy("market question status", "Waits for staff")
        CLOSED = "closed", pgettext_lazy("market question status", "Answered or closed on the marketplace")

    source = models.CharField(pgettext_lazy("sync", "source"), max_length=20, choices=Source.choices)
    question_id = models.CharField(_("question id"), max_length=40)
    item_id = models.CharField(_("item id"), max_length=40, blank=True)
    sku = models.CharField(_("sku"), max_length=60, blank=True)
    text = models.TextField(_("text"))
    raw = models.JSONField(_("raw"), default=dict)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.NEW)
    answer = models.TextField(
        _("answer"),
        blank=True,
        help_text=_("What is (or was) posted back; staff write it for a question left to them."),
    )
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("answered by"),
    )
    error = models.TextField(_("error"), blank=True, help_text=_("Why the marketplace refused the last answer."))
    asked_at = models.DateTimeField(_("asked at"), null=True, blank=True)
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("market question")
        verbose_name_plural = _("market questions")
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["tenant", "source", "question_id"], name="market_question_once")]

    def __str__(self) -> str:
        return gettext("%(source)s question %(id)s") % {"source": self.get_source_display(), "id": self.question_id}
