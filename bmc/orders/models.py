"""Orders: an accepted quote's lines at its prices and catalog version, from payment to delivery."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from bmc.conversations.models import Conversation, Customer
from bmc.core.models import TenantOwned, TouchingQuerySet
from bmc.quotes.models import CatalogVersion, Quote


class Order(TenantOwned):
    class Status(models.TextChoices):
        PENDING_PAYMENT = "pending_payment", pgettext_lazy("order status", "Pending payment")
        PAID = "paid", pgettext_lazy("order status", "Paid")
        SCHEDULED = "scheduled", pgettext_lazy("order status", "Delivery scheduled")
        DELIVERED = "delivered", pgettext_lazy("order status", "Delivered")
        CANCELLED = "cancelled", pgettext_lazy("order status", "Cancelled")

    class Stock(models.TextChoices):
        PENDING = "pending", pgettext_lazy("order stock", "Not reserved yet")
        RESERVED = "reserved", pgettext_lazy("order stock", "Reserved")
        SHORT = "short", pgettext_lazy("order stock", "Short: waits for staff")
        RELEASED = "released", pgettext_lazy("order stock", "Released")
        SHIPPED = "shipped", pgettext_lazy("order stock", "Shipped")

    class Source(models.TextChoices):
        CONVERSATION = "conversation", pgettext_lazy("order source", "The customer, in the conversation")
        ADMIN = "admin", pgettext_lazy("order source", "Staff, in the admin")
        API = "api", pgettext_lazy("order source", "The API")
        MERCADOLIBRE = "mercadolibre", _("MercadoLibre")
        SHOPIFY = "shopify", _("Shopify")

    # one order per quote: a quote ordered twice (a task run twice, two clicks) is refused by the database
    quote = models.OneToOneField(Quote, on_delete=models.PROTECT, related_name="order", verbose_name=_("quote"))
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.PROTECT, related_name="orders", verbose_name=_("customer")
    )
    conversation = models.ForeignKey(
        Conversation,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="orders",
        verbose_name=_("conversation"),
    )
    catalog_version = models.ForeignKey(
        CatalogVersion, on_delete=models.PROTECT, related_name="orders", verbose_name=_("catalog version")
    )
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.PENDING_PAYMENT)
    stock = models.CharField(_("stock"), max_length=20, choices=Stock.choices, default=Stock.PENDING)
    source = models.CharField(_("source"), max_length=20, choices=Source.choices)
    currency = models.CharField(_("currency"), max_length=3)
    subtotal = models.DecimalField(_("subtotal"), max_digits=12, decimal_places=2)
    iva = models.DecimalField(_("IVA"), max_digits=12, decimal_places=2)
    total = models.DecimalField(_("total"), max_digits=12, decimal_places=2)
    zone = models.CharField(_("zone"), max_length=20, blank=True, help_text=_("Delivery zone; empty: picked up."))
    delivery_date = models.DateField(
        _("delivery date"), null=True, blank=True, help_text=_("Proposed from the zone; staff confirm it.")
    )
    payment_url = models.URLField(_("payment URL"), max_length=500, blank=True)
    payment_reference = models.CharField(
        _("payment reference"), max_length=100, blank=True, help_text=_("Mercado Pago's preference id.")
    )
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    cancel_reason = models.CharField(_("cancel reason"), max_length=300, blank=True)
    external_id = models.CharField(
        _("external id"),
        max_length=60,
        blank=True,
        help_text=_("The order's id on the marketplace it came from (MercadoLibre, Shopify)."),
    )
    buyer = models.CharField(
        _("buyer"), max_length=200, blank=True, help_text=_("The marketplace's buyer, when not a customer here.")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = TouchingQuerySet.as_manager()

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "status"]), models.Index(fields=["tenant", "customer"])]
        constraints = [
            # a marketplace order pulled twice (a run repeated, two runs racing) is one order
            models.UniqueConstraint(
                fields=["tenant", "source", "external_id"],
                condition=~models.Q(external_id=""),
                name="order_external_once",
            )
        ]

    def __str__(self) -> str:
        return f"{self.number} ({self.total} {self.currency}, {self.get_status_display()})"

    @property
    def number(self) -> str:
        return f"PED-{self.pk:06d}" if self.pk else "PED-(nuevo)"


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines", verbose_name=_("order"))
    position = models.PositiveSmallIntegerField(_("position"))
    sku = models.CharField(_("SKU"), max_length=60)
    description = models.CharField(_("description"), max_length=200)
    unit = models.CharField(_("unit"), max_length=20)
    quantity = models.DecimalField(_("quantity"), max_digits=12, decimal_places=2)
    unit_price = models.DecimalField(_("unit price"), max_digits=12, decimal_places=2)
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)

    class Meta:
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")
        ordering = ["position"]

    def __str__(self) -> str:
        return f"{self.quantity} {self.unit} {self.sku}"
