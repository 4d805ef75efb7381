"""Domain events, written in the transaction of the change that caused them (an outbox), and the
n8n subscriptions they are delivered to, once each (docs/workflows.md)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from bmc.core.models import TenantOwned


class DomainEvent(TenantOwned):
    """Something that happened: `quote.accepted` of "quote:123", with what a consumer needs."""

    type = models.CharField(_("type"), max_length=80, db_index=True, help_text=_("e.g. quote.accepted"))
    subject = models.CharField(_("subject"), max_length=80, help_text=_('What it happened to, e.g. "quote:123".'))
    data = models.JSONField(_("data"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    published_at = models.DateTimeField(
        _("published at"), null=True, blank=True, help_text=_("When its deliveries were made.")
    )

    class Meta:
        verbose_name = _("domain event")
        verbose_name_plural = _("domain events")
        ordering = ["id"]
        indexes = [models.Index(fields=["tenant", "id"]), models.Index(fields=["published_at", "id"])]

    def __str__(self) -> str:
        return f"{self.type} {self.subject} #{self.pk}"


class EventSubscription(TenantOwned):
    """A URL that receives one event type (or every type: "*"), signed with its secret."""

    event_type = models.CharField(_("event type"), max_length=80, help_text=_('An event type, or "*" for every one.'))
    url = models.URLField(_("url"), max_length=500)
    secret = models.CharField(
        _("secret"), max_length=200, help_text=_("Signs each delivery: X-BMC-Signature, HMAC-SHA256.")
    )
    active = models.BooleanField(pgettext_lazy("event subscription", "active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("event subscription")
        verbose_name_plural = _("event subscriptions")

    def __str__(self) -> str:
        return f"{self.event_type} -> {self.url}"


class EventDelivery(TenantOwned):
    """One event to one subscription: made once however often the event is published."""

    class Status(models.TextChoices):
        PENDING = "pending", pgettext_lazy("event delivery status", "pending")
        DELIVERED = "delivered", pgettext_lazy("event delivery status", "delivered")
        FAILED = "failed", pgettext_lazy("event delivery status", "failed")

    subscription = models.ForeignKey(
        EventSubscription, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("subscription")
    )
    event = models.ForeignKey(DomainEvent, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("event"))
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    delivered_at = models.DateTimeField(pgettext_lazy("event delivery", "delivered at"), null=True, blank=True)

    class Meta:
        verbose_name = _("event delivery")
        verbose_name_plural = _("event deliveries")
        constraints = [models.UniqueConstraint(fields=["subscription", "event"], name="event_delivery_once")]

    def __str__(self) -> str:
        return f"{self.event} -> {self.subscription.url}: {self.get_status_display()}"
