"""Orders: an accepted quote's lines at its prices and catalog version, from payment to delivery."""

from __future__ import annotations

from django.db import models

from bmc.conversations.models import Conversation, Customer
from bmc.core.models import TenantOwned, TouchingQuerySet
from bmc.quotes.models import CatalogVersion, Quote


class Order(TenantOwned):
    class Status(models.TextChoices):
        PENDING_PAYMENT = "pending_payment", "Pending payment"
        PAID = "paid", "Paid"
        SCHEDULED = "scheduled", "Delivery scheduled"
        DELIVERED = "delivered", "Delivered"
        CANCELLED = "cancelled", "Cancelled"

    class Stock(models.TextChoices):
        PENDING = "pending", "Not reserved yet"
        RESERVED = "reserved", "Reserved"
        SHORT = "short", "Short: waits for staff"
        RELEASED = "released", "Released"
        SHIPPED = "shipped", "Shipped"

    class Source(models.TextChoices):
        CONVERSATION = "conversation", "The customer, in the conversation"
        ADMIN = "admin", "Staff, in the admin"
        API = "api", "The API"
        MERCADOLIBRE = "mercadolibre", "MercadoLibre"
        SHOPIFY = "shopify", "Shopify"

    # one order per quote: a quote ordered twice (a task run twice, two clicks) is refused by the database
    quote = models.OneToOneField(Quote, on_delete=models.PROTECT, related_name="order")
    customer = models.ForeignKey(Customer, null=True, blank=True, on_delete=models.PROTECT, related_name="orders")
    conversation = models.ForeignKey(
        Conversation, null=True, blank=True, on_delete=models.SET_NULL, related_name="orders"
    )
    catalog_version = models.ForeignKey(CatalogVersion, on_delete=models.PROTECT, related_name="orders")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING_PAYMENT)
    stock = models.CharField(max_length=20, choices=Stock.choices, default=Stock.PENDING)
    source = models.CharField(max_length=20, choices=Source.choices)
    currency = models.CharField(max_length=3)
    subtotal = models.DecimalField(max_digits=12, decimal_places=2)
    iva = models.DecimalField(max_digits=12, decimal_places=2)
    total = models.DecimalField(max_digits=12, decimal_places=2)
    zone = models.CharField(max_length=20, blank=True, help_text="Delivery zone; empty: picked up.")
    delivery_date = models.DateField(null=True, blank=True, help_text="Proposed from the zone; staff confirm it.")
    payment_url = models.URLField(max_length=500, blank=True)
    payment_reference = models.CharField(max_length=100, blank=True, help_text="Mercado Pago's preference id.")
    paid_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=300, blank=True)
    external_id = models.CharField(
        max_length=60, blank=True, help_text="The order's id on the marketplace it came from (MercadoLibre, Shopify)."
    )
    buyer = models.CharField(max_length=200, blank=True, help_text="The marketplace's buyer, when not a customer here.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TouchingQuerySet.as_manager()

    class Meta:
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
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField()
    sku = models.CharField(max_length=60)
    description = models.CharField(max_length=200)
    unit = models.CharField(max_length=20)
    quantity = models.DecimalField(max_digits=12, decimal_places=2)
    unit_price = models.DecimalField(max_digits=12, decimal_places=2)
    amount = models.DecimalField(max_digits=12, decimal_places=2)

    class Meta:
        ordering = ["position"]

    def __str__(self) -> str:
        return f"{self.quantity} {self.unit} {self.sku}"
