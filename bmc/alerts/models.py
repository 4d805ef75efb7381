"""Alerts: rules kept as data (edited in the admin), the alerts they raise, and each notice sent.

A rule is evaluated every ALERTS_INTERVAL by beat (agents/alerts.py): raised once when its
condition holds, repeated every `repeat_minutes` while it holds, resolved when it clears. Each
notice (staff task, n8n, e-mail) is a row written before it is sent, unique per alert, channel and
sequence, so a second evaluator (two beats) sends nothing twice."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class AlertRule(models.Model):
    class Kind(models.TextChoices):
        QUEUE_DEPTH = "queue_depth", _("Tasks waiting in a queue")
        QUEUE_WITHOUT_WORKER = "queue_without_worker", _("A queue with no worker")
        TASKS_DEAD = "tasks_dead", _("Tasks dead")
        FAILURE_RATE = "failure_rate", _("Share of an agent's tasks that failed (%)")
        REPLY_TIME_P95 = "reply_time_p95", _("Reply time to customers, p95 (seconds)")
        BEAT_SILENT = "beat_silent", _("Beat silent (seconds since its last tick)")
        OUTBOUND_FAILURES = "outbound_failures", _("Messages to customers that failed")
        SYNC_FAILING = "sync_failing", _("Sync sources failing (failed runs in a row)")
        BREAKER_OPEN = "breaker_open", _("An outside service's circuit open")
        INBOUND_ANOMALY = "inbound_anomaly", _("Inbound messages unlike the same hour of past weeks")

    name = models.CharField(_("name"), max_length=120, unique=True)
    kind = models.CharField(_("kind"), max_length=30, choices=Kind.choices)
    enabled = models.BooleanField(_("enabled"), default=True)
    target = models.CharField(
        _("target"),
        max_length=80,
        blank=True,
        help_text=_("A queue, an agent or a service this rule watches; empty: every one."),
    )
    threshold = models.FloatField(
        pgettext_lazy("alert rule", "threshold"),
        help_text=_(
            "Raised at or above this value. For the inbound anomaly: the factor away from the usual "
            "(3 raises at three times the usual volume or under a third of it)."
        ),
    )
    window_minutes = models.PositiveIntegerField(
        _("window (minutes)"), default=15, help_text=_("How far back counts and rates look.")
    )
    minimum = models.PositiveIntegerField(
        _("minimum"),
        default=0,
        help_text=_(
            "Rates need at least this many tasks or messages in the window to mean anything (failure "
            "rate, reply time, the usual volume of the anomaly)."
        ),
    )
    for_minutes = models.PositiveIntegerField(
        _("for (minutes)"),
        default=0,
        help_text=_(
            "Raised only once it has held this long: a worker restarting, or the system starting, is not an alert."
        ),
    )
    repeat_minutes = models.PositiveIntegerField(
        _("repeat every (minutes)"), default=60, help_text=_("While it holds, told again this often; 0: once.")
    )
    notify_staff = models.BooleanField(pgettext_lazy("alert rule", "staff task"), default=True)
    notify_n8n = models.BooleanField(_("to n8n"), default=True, help_text=_("POSTed to ALERTS_N8N_URL if set."))
    notify_email = models.BooleanField(
        _("by e-mail"), default=True, help_text=_("To ALERTS_EMAIL_TO, or the addresses below.")
    )
    email_to = models.CharField(_("e-mail to"), max_length=400, blank=True, help_text=_("Comma-separated."))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("alert rule")
        verbose_name_plural = _("alert rules")
        ordering = ["kind", "name"]

    def __str__(self) -> str:
        return self.name


class Alert(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", pgettext_lazy("alert state", "Pending (not held long enough to be told)")
        OPEN = "open", pgettext_lazy("alert state", "Open")
        RESOLVED = "resolved", pgettext_lazy("alert state", "Resolved")

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="alerts", verbose_name=_("rule"))
    subject = models.CharField(
        _("subject"), max_length=80, blank=True, help_text=_("What it is about: the queue, agent or service.")
    )
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.OPEN)
    value = models.FloatField(_("value"), help_text=_("The measure when last evaluated."))
    detail = models.TextField(_("detail"), blank=True)
    first_seen_at = models.DateTimeField(_("first seen at"), help_text=_("When the rule first held."))
    raised_at = models.DateTimeField(_("raised at"), null=True, blank=True, help_text=_("When it was first told."))
    last_seen_at = models.DateTimeField(_("last seen at"))
    last_notified_at = models.DateTimeField(_("last notified at"), null=True, blank=True)
    notices = models.PositiveIntegerField(_("notices"), default=0)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)

    class Meta:
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        ordering = ["state", "-first_seen_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "subject"],
                condition=models.Q(state__in=["open", "pending"]),
                name="alert_open_once_per_subject",
            )
        ]

    def __str__(self) -> str:
        return f"{self.rule.name}: {self.subject}" if self.subject else self.rule.name


class AlertNotice(models.Model):
    """One notice of an alert on one channel: written before it is sent, marked after."""

    class Kind(models.TextChoices):
        RAISED = "raised", pgettext_lazy("alert notice", "Raised")
        REPEATED = "repeated", pgettext_lazy("alert notice", "Still holds")
        RESOLVED = "resolved", pgettext_lazy("alert notice", "Resolved")

    class Channel(models.TextChoices):
        STAFF = "staff", _("Staff task")
        N8N = "n8n", "n8n"
        EMAIL = "email", _("E-mail")

    class Status(models.TextChoices):
        PENDING = "pending", pgettext_lazy("alert notice status", "Pending")
        SENT = "sent", pgettext_lazy("alert notice status", "Sent")
        FAILED = "failed", pgettext_lazy("alert notice status", "Failed")

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="notice_rows", verbose_name=_("alert"))
    sequence = models.PositiveIntegerField(_("sequence"))
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("alert notice")
        verbose_name_plural = _("alert notices")
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["alert", "sequence", "channel"], name="alert_notice_once")]
