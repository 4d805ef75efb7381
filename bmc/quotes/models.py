"""Quotes and the catalog they are priced from: each catalog import a version of its own, its
products, and the quotes with their lines, which record the version they were priced with."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from bmc.conversations.models import Conversation, Customer, Message
from bmc.core.models import TenantOwned, TouchingQuerySet


class CatalogVersion(TenantOwned):
    """One import of the catalog. Quotes record the version they were priced with."""

    version = models.PositiveIntegerField()
    source = models.CharField(max_length=300)
    checksum = models.CharField(max_length=64, help_text="SHA-256 of the imported rows.")
    product_count = models.PositiveIntegerField(default=0)
    is_current = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "core_catalogversion"  # moved from bmc.core, its table kept
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "version"], name="catalog_version_unique_per_tenant"),
        ]

    def __str__(self) -> str:
        return f"{self.tenant} catalog v{self.version}"


class Product(TenantOwned):
    class Kind(models.TextChoices):
        PANEL = "panel", "Panel"
        ACCESSORY = "accessory", "Accessory"
        SHIPPING = "shipping", "Shipping"

    catalog_version = models.ForeignKey(CatalogVersion, on_delete=models.CASCADE, related_name="products")
    sku = models.CharField(max_length=60)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    family = models.CharField(max_length=60, blank=True)
    name = models.CharField(max_length=200)
    use = models.CharField(max_length=20, blank=True)
    thickness_mm = models.PositiveIntegerField(null=True, blank=True)
    useful_width_m = models.DecimalField(max_digits=6, decimal_places=3, null=True, blank=True)
    max_span_m = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    unit = models.CharField(max_length=20)
    piece_length_m = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    price_venta_usd = models.DecimalField(max_digits=12, decimal_places=2)
    price_web_usd = models.DecimalField(max_digits=12, decimal_places=2)
    colors = models.JSONField(default=list, blank=True)

    class Meta:
        db_table = "core_product"  # moved from bmc.core, its table kept
        ordering = ["sku"]
        constraints = [
            models.UniqueConstraint(fields=["catalog_version", "sku"], name="product_sku_unique_per_version"),
        ]

    def __str__(self) -> str:
        return f"{self.sku} ({self.name})"


class Quote(TenantOwned):
    """A priced quote. Its lines and totals never change once issued: they record the catalog
    version they were priced with."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PENDING_APPROVAL = "pending_approval", "Pending approval"
        SENT = "sent", "Sent"
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"
        EXPIRED = "expired", "Expired"

    customer = models.ForeignKey(Customer, null=True, blank=True, on_delete=models.PROTECT, related_name="quotes")
    conversation = models.ForeignKey(
        Conversation, null=True, blank=True, on_delete=models.SET_NULL, related_name="quotes"
    )
    source_message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    catalog_version = models.ForeignKey(CatalogVersion, on_delete=models.PROTECT, related_name="quotes")
    spec = models.JSONField(default=dict)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    price_list = models.CharField(max_length=10, default="venta")
    currency = models.CharField(max_length=3, default="USD")
    subtotal = models.DecimalField(max_digits=12, decimal_places=2)
    iva = models.DecimalField(max_digits=12, decimal_places=2)
    total = models.DecimalField(max_digits=12, decimal_places=2)
    estimate = models.BooleanField(default=False, help_text="Priced from an area only; measures pending.")
    requires_approval = models.BooleanField(
        default=False, help_text="Over 10,000 USD: staff approve before it is sent."
    )
    option_group = models.CharField(max_length=64, blank=True, help_text="Alternatives asked together share it.")
    option_key = models.CharField(
        max_length=64, blank=True, help_text="Which alternative of its group (a digest of its spec): stored once."
    )
    valid_until = models.DateField()
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True, help_text="When it was accepted or rejected.")
    ordered_at = models.DateTimeField(null=True, blank=True, help_text="When the accepted quote became an order.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TouchingQuerySet.as_manager()

    class Meta:
        db_table = "core_quote"  # moved from bmc.core: its table and indexes kept
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["tenant", "status"], name="core_quote_tenant__3d9b50_idx"),
            models.Index(fields=["option_group"], name="core_quote_option__eca589_idx"),
        ]
        constraints = [
            # an alternative priced twice (its task run twice, even at the same time) is one quote
            models.UniqueConstraint(
                fields=["conversation", "option_group", "option_key"],
                condition=~models.Q(option_group=""),
                name="quote_option_once",
            )
        ]
        permissions = [("approve_quote", "Can approve quotes over the approval threshold")]

    def __str__(self) -> str:
        return f"{self.number} ({self.total} {self.currency})"

    @property
    def number(self) -> str:
        return f"COT-{self.pk:06d}" if self.pk else "COT-(nueva)"


class QuoteLine(models.Model):
    quote = models.ForeignKey(Quote, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField()
    sku = models.CharField(max_length=60)
    description = models.CharField(max_length=200)
    unit = models.CharField(max_length=20)
    quantity = models.DecimalField(max_digits=12, decimal_places=2)
    unit_price = models.DecimalField(max_digits=12, decimal_places=2)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    reason = models.CharField(max_length=200, blank=True, help_text="Why, for a staff discount line.")

    class Meta:
        db_table = "core_quoteline"  # moved from bmc.core, its table kept
        ordering = ["quote", "position"]
        constraints = [models.UniqueConstraint(fields=["quote", "position"], name="quote_line_position_unique")]

    def __str__(self) -> str:
        return f"{self.sku} x {self.quantity}"
