"""Domain events, written in the transaction of the change that caused them (an outbox), and the
n8n subscriptions they are delivered to, once each (docs/workflows.md)."""

from __future__ import annotations

from django.db import models

from bmc.core.models import TenantOwned


class DomainEvent(TenantOwned):
    """Something that happened: `quote.accepted` of "quote:123", with what a consumer needs."""

    type = models.CharField(max_length=80, db_index=True, help_text="e.g. quote.accepted")
    subject = models.CharField(max_length=80, help_text='What it happened to, e.g. "quote:123".')
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True, help_text="When its deliveries were made.")

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["tenant", "id"]), models.Index(fields=["published_at", "id"])]

    def __str__(self) -> str:
        return f"{self.type} {self.subject} #{self.pk}"


class EventSubscription(TenantOwned):
    """A URL that receives one event type (or every type: "*"), signed with its secret."""

    event_type = models.CharField(max_length=80, help_text='An event type, or "*" for every one.')
    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=200, help_text="Signs each delivery: X-BMC-Signature, HMAC-SHA256.")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.event_type} -> {self.url}"


class EventDelivery(TenantOwned):
    """One event to one subscription: made once however often the event is published."""

    class Status(models.TextChoices):
        PENDING = "pending", "pending"
        DELIVERED = "delivered", "delivered"
        FAILED = "failed", "failed"

    subscription = models.ForeignKey(EventSubscription, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey(DomainEvent, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["subscription", "event"], name="event_delivery_once")]

    def __str__(self) -> str:
        return f"{self.event} -> {self.subscription.url}: {self.status}"
