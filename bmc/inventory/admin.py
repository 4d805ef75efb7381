"""Stock for staff: levels per product and warehouse, goods received, and every move."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from agents.inventory.purchasing import purchase_order_receive
from agents.inventory.stock import stock_receive
from bmc.core.admin import ReadOnlyInline, pretty_json
from bmc.inventory.models import (
    PurchaseOrder,
    PurchaseOrderLine,
    StockLevel,
    StockMove,
    Supplier,
    SupplierProduct,
    Warehouse,
)


@admin.register(Warehouse)
class WarehouseAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "zone", "active", "tenant")


class MoveInline(ReadOnlyInline):
    model = StockMove
    fields = ("created_at", "kind", "quantity", "reference", "note")
    ordering = ("-created_at",)


class LevelForm(forms.ModelForm):
    received = forms.DecimalField(
        label=_("Received now"),
        required=False,
        min_value=Decimal("0.01"),
        decimal_places=2,
        help_text=_("Goods received now: added to on hand."),
    )

    class Meta:
        model = StockLevel
        fields = ("warehouse", "sku", "threshold")


@admin.register(StockLevel)
class StockLevelAdmin(admin.ModelAdmin):
    form = LevelForm
    list_display = ("sku", "warehouse", "on_hand", "reserved", "available", "threshold", "low_since")
    list_filter = ("warehouse",)
    search_fields = ("sku",)
    readonly_fields = ("on_hand", "reserved", "available", "low_since")
    inlines = [MoveInline]

    @admin.display(description=_("Available"))
    def available(self, obj) -> Decimal:
        return obj.available

    def save_model(self, request, obj, form, change):
        if not change:
            obj.tenant = obj.warehouse.tenant
        super().save_model(request, obj, form, change)
        received = form.cleaned_data.get("received")
        if received:
            stock_receive(
                tenant=obj.tenant,
                warehouse=obj.warehouse,
                sku=obj.sku,
                quantity=received,
                reference=f"admin:{request.user}",
                key=f"admin-receipt:{obj.pk}:{uuid.uuid4().hex}",
            )


@admin.register(StockMove)
class StockMoveAdmin(admin.ModelAdmin):
    list_display = ("created_at", "kind", "level", "quantity", "reference")
    list_filter = ("kind",)
    search_fields = ("reference", "level__sku")
    readonly_fields = ("level", "kind", "quantity", "reference", "dedupe_key", "note", "created_at")

    def has_add_permission(self, request) -> bool:
        return False  # moves are what happens: a receipt on its stock level, an order's reservation


@admin.register(Supplier)
class SupplierAdmin(admin.ModelAdmin):
    list_display = ("name", "email", "order_url", "lead_time_days", "tenant")


@admin.register(SupplierProduct)
class SupplierProductAdmin(admin.ModelAdmin):
    list_display = ("sku", "supplier", "pack", "unit_cost")
    list_filter = ("supplier",)
    search_fields = ("sku",)


class PurchaseLineInline(ReadOnlyInline):
    model = PurchaseOrderLine
    fields = ("sku", "quantity")


@admin.register(PurchaseOrder)
class PurchaseOrderAdmin(admin.ModelAdmin):
    """Drafts come from stock alerts and are approved in their workflow run (Workflow runs >
    the run > Approve or reject); here staff mark the goods received."""

    list_display = ("number", "supplier", "warehouse", "status", "created_at", "sent_at", "received_at")
    list_filter = ("status", "supplier")
    readonly_fields = (
        "number",
        "supplier",
        "warehouse",
        "status",
        "reason",
        "shown_forecast",
        "sent_via",
        "created_at",
        "sent_at",
        "received_at",
    )
    fields = readonly_fields
    inlines = [PurchaseLineInline]
    actions = ["goods_received"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.display(description=_("Number"))
    def number(self, obj) -> str:
        return obj.number

    @admin.display(description=_("Forecast"))
    def shown_forecast(self, obj) -> str:
        return pretty_json(obj.forecast)

    @admin.action(description=_("Goods received (into the warehouse's stock)"))
    def goods_received(self, request, queryset):
        done = sum(purchase_order_receive(order=order) for order in queryset)
        self.message_user(
            request,
            ngettext(
                "%(count)d purchase order received; the others were not sent or already in.",
                "%(count)d purchase orders received; the others were not sent or already in.",
                done,
            )
            % {"count": done},
        )
