"""Payments as the payment provider reports them (Mercado Pago), one row per payment of theirs:
however many notifications tell of it, it is applied to its order once."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from bmc.core.models import TenantOwned
from bmc.orders.models import Order


class Payment(TenantOwned):
    class Provider(models.TextChoices):
        MERCADOPAGO = "mercadopago", _("Mercado Pago")

    provider = models.CharField(_("provider"), max_length=20, choices=Provider.choices)
    external_id = models.CharField(_("external id"), max_length=60, help_text=_("The provider's payment id."))
    order = models.ForeignKey(
        Order, null=True, blank=True, on_delete=models.PROTECT, related_name="payments", verbose_name=_("order")
    )
    status = models.CharField(
        _("status"), max_length=30, help_text=_("As the provider says: approved, pending, rejected...")
    )
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2, null=True, blank=True)
    currency = models.CharField(_("currency"), max_length=3, blank=True)
    raw = models.JSONField(
        _("as the provider returned it"),
        default=dict,
        blank=True,
        help_text=_("The payment as the provider's API returned it."),
    )
    applied_at = models.DateTimeField(
        _("applied at"), null=True, blank=True, help_text=_("When it was handed to its order's workflow.")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "provider", "external_id"], name="payment_once_per_provider_id")
        ]

    def __str__(self) -> str:
        return f"{self.get_provider_display()} {self.external_id}: {self.status}"
