"""Payments as the payment provider reports them (Mercado Pago), one row per payment of theirs:
however many notifications tell of it, it is applied to its order once."""

from __future__ import annotations

from django.db import models

from bmc.core.models import TenantOwned
from bmc.orders.models import Order


class Payment(TenantOwned):
    class Provider(models.TextChoices):
        MERCADOPAGO = "mercadopago", "Mercado Pago"

    provider = models.CharField(max_length=20, choices=Provider.choices)
    external_id = models.CharField(max_length=60, help_text="The provider's payment id.")
    order = models.ForeignKey(Order, null=True, blank=True, on_delete=models.PROTECT, related_name="payments")
    status = models.CharField(max_length=30, help_text="As the provider says: approved, pending, rejected...")
    amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    raw = models.JSONField(default=dict, blank=True, help_text="The payment as the provider's API returned it.")
    applied_at = models.DateTimeField(null=True, blank=True, help_text="When it was handed to its order's workflow.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "provider", "external_id"], name="payment_once_per_provider_id")
        ]

    def __str__(self) -> str:
        return f"{self.get_provider_display()} {self.external_id}: {self.status}"
