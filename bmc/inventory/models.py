"""Stock per product (by SKU) and warehouse, and every move of it: receipts, reservations for
orders, their releases, shipments. A SKU with no stock level anywhere is not kept in stock (freight,
made to order) and is never reserved. The database refuses a level below zero or more reserved
than on hand, whatever the code does."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import F, Q

from bmc.core.models import TenantOwned


class Warehouse(TenantOwned):
    code = models.SlugField(max_length=30)
    name = models.CharField(max_length=120)
    zone = models.CharField(max_length=20, blank=True, help_text="The delivery zone it is in (MONTEVIDEO...).")
    active = models.BooleanField(default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "code"], name="warehouse_code_once")]

    def __str__(self) -> str:
        return self.name


class StockLevel(TenantOwned):
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="levels")
    sku = models.CharField(max_length=60)
    on_hand = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal(0))
    reserved = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal(0))
    threshold = models.DecimalField(
        max_digits=12, decimal_places=2, default=Decimal(0), help_text="Available under this: stock.low."
    )
    low_since = models.DateTimeField(null=True, blank=True, help_text="Under its threshold since (stock.low sent).")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["sku", "warehouse_id"]
        constraints = [
            models.UniqueConstraint(fields=["warehouse", "sku"], name="stock_level_once"),
            models.CheckConstraint(condition=Q(on_hand__gte=0), name="stock_on_hand_not_negative"),
            models.CheckConstraint(condition=Q(reserved__gte=0), name="stock_reserved_not_negative"),
            models.CheckConstraint(condition=Q(reserved__lte=F("on_hand")), name="stock_reserved_within_on_hand"),
        ]

    def __str__(self) -> str:
        return f"{self.sku} @ {self.warehouse}: {self.available} available"

    @property
    def available(self) -> Decimal:
        return self.on_hand - self.reserved


class StockMove(TenantOwned):
    """One change of a stock level, made once per `dedupe_key` (an agent that runs twice moves it once)."""

    class Kind(models.TextChoices):
        RECEIPT = "receipt", "Goods received"
        RESERVATION = "reservation", "Reserved for an order"
        RELEASE = "release", "Reservation released"
        SHIPMENT = "shipment", "Shipped"
        ADJUSTMENT = "adjustment", "Counted / adjusted"

    level = models.ForeignKey(StockLevel, on_delete=models.PROTECT, related_name="moves")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    quantity = models.DecimalField(max_digits=12, decimal_places=2)
    reference = models.CharField(max_length=80, blank=True, help_text='What it is for, e.g. "order:12".')
    dedupe_key = models.CharField(max_length=120)
    note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["tenant", "dedupe_key"], name="stock_move_once")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.quantity} {self.level.sku}"


class Supplier(TenantOwned):
    """Who a product is bought from, and how an order reaches them: an n8n URL (signed like the
    event deliveries) or, without one, an e-mail."""

    name = models.CharField(max_length=200)
    email = models.EmailField(blank=True)
    order_url = models.URLField(max_length=500, blank=True, help_text="n8n: receives each purchase order, signed.")
    order_secret = models.CharField(max_length=200, blank=True, help_text="Signs what is POSTed to order_url.")
    lead_time_days = models.PositiveIntegerField(default=7, help_text="Days from the order to the goods received.")

    def __str__(self) -> str:
        return self.name


class SupplierProduct(TenantOwned):
    """A SKU's supplier: the one purchase orders go to, in multiples of `pack` units."""

    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="products")
    sku = models.CharField(max_length=60)
    pack = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal(1), help_text="Ordered in multiples.")
    unit_cost = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "sku"], name="one_supplier_per_sku")]

    def __str__(self) -> str:
        return f"{self.sku} from {self.supplier}"


class PurchaseOrder(TenantOwned):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft: waits for approval"
        APPROVED = "approved", "Approved"
        SENT = "sent", "Sent to the supplier"
        RECEIVED = "received", "Goods received"
        CANCELLED = "cancelled", "Cancelled"

    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="purchase_orders")
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="purchase_orders")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    reason = models.CharField(max_length=60, blank=True, help_text='What asked for it, e.g. "stock:planta:CUMBRERA".')
    forecast = models.JSONField(default=dict, blank=True, help_text="The demand forecast the quantities come from.")
    sent_via = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # one purchase order per alert, however often its step runs
            models.UniqueConstraint(fields=["tenant", "reason"], condition=~Q(reason=""), name="purchase_order_once")
        ]

    def __str__(self) -> str:
        return f"{self.number} ({self.supplier}, {self.get_status_display()})"

    @property
    def number(self) -> str:
        return f"OC-{self.pk:06d}" if self.pk else "OC-(nueva)"


class PurchaseOrderLine(models.Model):
    purchase_order = models.ForeignKey(PurchaseOrder, on_delete=models.CASCADE, related_name="lines")
    sku = models.CharField(max_length=60)
    quantity = models.DecimalField(max_digits=12, decimal_places=2)

    def __str__(self) -> str:
        return f"{self.quantity} {self.sku}"
