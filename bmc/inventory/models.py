"""Stock per product (by SKU) and warehouse, and every move of it: receipts, reservations for
orders, their releases, shipments. A SKU with no stock level anywhere is not kept in stock (freight,
made to order) and is never reserved. The database refuses a level below zero or more reserved
than on hand, whatever the code does."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from bmc.core.models import TenantOwned


class Warehouse(TenantOwned):
    code = models.SlugField(_("code"), max_length=30)
    name = models.CharField(_("name"), max_length=120)
    zone = models.CharField(
        _("zone"), max_length=20, blank=True, help_text=_("The delivery zone it is in (MONTEVIDEO...).")
    )
    active = models.BooleanField(pgettext_lazy("warehouse", "active"), default=True)

    class Meta:
        verbose_name = _("warehouse")
        verbose_name_plural = _("warehouses")
        constraints = [models.UniqueConstraint(fields=["tenant", "code"], name="warehouse_code_once")]

    def __str__(self) -> str:
        return self.name


class StockLevel(TenantOwned):
    warehouse = models.ForeignKey(
        Warehouse, on_delete=models.PROTECT, related_name="levels", verbose_name=_("warehouse")
    )
    sku = models.CharField(_("SKU"), max_length=60)
    on_hand = models.DecimalField(_("on hand"), max_digits=12, decimal_places=2, default=Decimal(0))
    reserved = models.DecimalField(_("reserved"), max_digits=12, decimal_places=2, default=Decimal(0))
    threshold = models.DecimalField(
        _("threshold"),
        max_digits=12,
        decimal_places=2,
        default=Decimal(0),
        help_text=_("Available under this: stock.low."),
    )
    low_since = models.DateTimeField(
        _("low since"), null=True, blank=True, help_text=_("Under its threshold since (stock.low sent).")
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("stock level")
        verbose_name_plural = _("stock levels")
        ordering = ["sku", "warehouse_id"]
        constraints = [
            models.UniqueConstraint(fields=["warehouse", "sku"], name="stock_level_once"),
            models.CheckConstraint(condition=Q(on_hand__gte=0), name="stock_on_hand_not_negative"),
            models.CheckConstraint(condition=Q(reserved__gte=0), name="stock_reserved_not_negative"),
            models.CheckConstraint(condition=Q(reserved__lte=F("on_hand")), name="stock_reserved_within_on_hand"),
        ]

    def __str__(self) -> str:
        return gettext("%(sku)s @ %(warehouse)s: %(available)s available") % {
            "sku": self.sku,
            "warehouse": self.warehouse,
            "available": self.available,
        }

    @property
    def available(self) -> Decimal:
        return self.on_hand - self.reserved


class StockMove(TenantOwned):
    """One change of a stock level, made once per `dedupe_key` (an agent that runs twice moves it once)."""

    class Kind(models.TextChoices):
        RECEIPT = "receipt", pgettext_lazy("stock move", "Goods received")
        RESERVATION = "reservation", pgettext_lazy("stock move", "Reserved for an order")
        RELEASE = "release", pgettext_lazy("stock move", "Reservation released")
        SHIPMENT = "shipment", pgettext_lazy("stock move", "Shipped")
        ADJUSTMENT = "adjustment", pgettext_lazy("stock move", "Counted / adjusted")

    level = models.ForeignKey(StockLevel, on_delete=models.PROTECT, related_name="moves", verbose_name=_("stock level"))
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    quantity = models.DecimalField(_("quantity"), max_digits=12, decimal_places=2)
    reference = models.CharField(
        _("reference"), max_length=80, blank=True, help_text=_('What it is for, e.g. "order:12".')
    )
    dedupe_key = models.CharField(_("dedupe key"), max_length=120)
    note = models.CharField(_("note"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("stock move")
        verbose_name_plural = _("stock moves")
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["tenant", "dedupe_key"], name="stock_move_once")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.quantity} {self.level.sku}"


class Supplier(TenantOwned):
    """Who a product is bought from, and how an order reaches them: an n8n URL (signed like the
    event deliveries) or, without one, an e-mail."""

    name = models.CharField(_("name"), max_length=200)
    email = models.EmailField(_("email"), blank=True)
    order_url = models.URLField(
        _("order URL"), max_length=500, blank=True, help_text=_("n8n: receives each purchase order, signed.")
    )
    order_secret = models.CharField(
        _("order secret"), max_length=200, blank=True, help_text=_("Signs what is POSTed to the order URL.")
    )
    lead_time_days = models.PositiveIntegerField(
        _("lead time (days)"), default=7, help_text=_("Days from the order to the goods received.")
    )

    class Meta:
        verbose_name = _("supplier")
        verbose_name_plural = _("suppliers")

    def __str__(self) -> str:
        return self.name


class SupplierProduct(TenantOwned):
    """A SKU's supplier: the one purchase orders go to, in multiples of `pack` units."""

    supplier = models.ForeignKey(
        Supplier, on_delete=models.PROTECT, related_name="products", verbose_name=_("supplier")
    )
    sku = models.CharField(_("SKU"), max_length=60)
    pack = models.DecimalField(
        _("pack"), max_digits=12, decimal_places=2, default=Decimal(1), help_text=_("Ordered in multiples.")
    )
    unit_cost = models.DecimalField(_("unit cost"), max_digits=12, decimal_places=2, null=True, blank=True)

    class Meta:
        verbose_name = _("supplier product")
        verbose_name_plural = _("supplier products")
        constraints = [models.UniqueConstraint(fields=["tenant", "sku"], name="one_supplier_per_sku")]

    def __str__(self) -> str:
        return gettext("%(sku)s from %(supplier)s") % {"sku": self.sku, "supplier": self.supplier}


class PurchaseOrder(TenantOwned):
    class Status(models.TextChoices):
        DRAFT = "draft", pgettext_lazy("purchase order status", "Draft: waits for approval")
        APPROVED = "approved", pgettext_lazy("purchase order status", "Approved")
        SENT = "sent", pgettext_lazy("purchase order status", "Sent to the supplier")
        RECEIVED = "received", pgettext_lazy("purchase order status", "Goods received")
        CANCELLED = "cancelled", pgettext_lazy("purchase order status", "Cancelled")

    supplier = models.ForeignKey(
        Supplier, on_delete=models.PROTECT, related_name="purchase_orders", verbose_name=_("supplier")
    )
    warehouse = models.ForeignKey(
        Warehouse, on_delete=models.PROTECT, related_name="purchase_orders", verbose_name=_("warehouse")
    )
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.DRAFT)
    reason = models.CharField(
        _("reason"), max_length=60, blank=True, help_text=_('What asked for it, e.g. "stock:planta:CUMBRERA".')
    )
    forecast = models.JSONField(
        _("forecast"), default=dict, blank=True, help_text=_("The demand forecast the quantities come from.")
    )
    sent_via = models.CharField(_("sent via"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    received_at = models.DateTimeField(_("received at"), null=True, blank=True)

    class Meta:
        verbose_name = _("purchase order")
        verbose_name_plural = _("purchase orders")
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
    purchase_order = models.ForeignKey(
        PurchaseOrder, on_delete=models.CASCADE, related_name="lines", verbose_name=_("purchase order")
    )
    sku = models.CharField(_("SKU"), max_length=60)
    quantity = models.DecimalField(_("quantity"), max_digits=12, decimal_places=2)

    class Meta:
        verbose_name = _("purchase order line")
        verbose_name_plural = _("purchase order lines")

    def __str__(self) -> str:
        return f"{self.quantity} {self.sku}"
