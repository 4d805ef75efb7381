"""Stock for staff: levels per product and warehouse, goods received, and every move."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django import forms
from django.contrib import admin

from agents.inventory.stock import stock_receive
from bmc.core.admin import ReadOnlyInline
from bmc.inventory.models import StockLevel, StockMove, Warehouse


@admin.register(Warehouse)
class WarehouseAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "zone", "active", "tenant")


class MoveInline(ReadOnlyInline):
    model = StockMove
    fields = ("created_at", "kind", "quantity", "reference", "note")
    ordering = ("-created_at",)


class LevelForm(forms.ModelForm):
    received = forms.DecimalField(
        required=False, min_value=Decimal("0.01"), decimal_places=2, help_text="Goods received now: added to on hand."
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

    @admin.display(description="Available")
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
