"""Orders for staff: the lines as quoted, the stock, the payment, the delivery; a transfer
confirmed, a delivery date set, a delivery made or an order cancelled from here."""

from __future__ import annotations

import uuid

from django.contrib import admin, messages
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from agents.orders.service import order_cancel, order_deliver, order_payment_record, order_schedule
from bmc.core.admin import ReadOnlyInline, StaffSearch
from bmc.orders.models import Order, OrderLine


class LineInline(ReadOnlyInline):
    model = OrderLine
    fields = ("position", "sku", "description", "unit", "quantity", "unit_price", "amount")


@admin.register(Order)
class OrderAdmin(StaffSearch, admin.ModelAdmin):
    list_display = (
        "number",
        "customer",
        "status",
        "stock",
        "total",
        "currency",
        "source",
        "delivery_date",
        "created_at",
    )
    list_filter = ("status", "stock", "zone", "source")
    search_fields = ("customer__name", "customer__phone", "id", "external_id", "buyer")
    number_prefix = "PED"
    phone_field = "customer__phone"
    readonly_fields = (
        "number",
        "quote",
        "customer",
        "conversation",
        "catalog_version",
        "status",
        "stock",
        "source",
        "external_id",
        "buyer",
        "currency",
        "subtotal",
        "iva",
        "total",
        "zone",
        "payment_url",
        "paid_at",
        "delivered_at",
        "cancelled_at",
        "cancel_reason",
        "created_at",
    )
    fields = ("delivery_date", *readonly_fields)
    inlines = [LineInline]
    actions = ["transfer_received", "delivered", "cancel"]

    def has_add_permission(self, request) -> bool:
        return False  # an order comes from a quote: the quote's "Order it" action

    @admin.display(description=_("Number"))
    def number(self, obj) -> str:
        return obj.number

    def save_model(self, request, obj, form, change):
        """A delivery date set on a paid order schedules it (order.scheduled)."""
        if "delivery_date" in form.changed_data and obj.delivery_date:
            if order_schedule(order=obj, day=obj.delivery_date):
                self.message_user(
                    request,
                    gettext("%(order)s: delivery scheduled for %(date)s.")
                    % {"order": obj.number, "date": obj.delivery_date.strftime("%d/%m/%Y")},
                )
            else:
                Order.objects.filter(pk=obj.pk).update(delivery_date=obj.delivery_date)
                self.message_user(
                    request,
                    gettext("%(order)s: date kept; it is scheduled once paid.") % {"order": obj.number},
                    messages.WARNING,
                )

    @admin.action(description=_("Payment received by bank transfer (the order's total)"))
    def transfer_received(self, request, queryset):
        for order in queryset.filter(status=Order.Status.PENDING_PAYMENT):
            order_payment_record(
                order=order,
                amount=order.total,
                currency=order.currency,
                method="transfer",
                reference=f"transfer confirmed by {request.user} ({uuid.uuid4().hex[:8]})",
            )
        self.message_user(request, gettext("Recorded: each order's workflow checks it and marks the order paid."))

    @admin.action(description=_("Delivered (the reserved stock leaves the warehouse)"))
    def delivered(self, request, queryset):
        done = sum(order_deliver(order=order) for order in queryset)
        self.message_user(
            request,
            ngettext(
                "%(count)d order delivered; the others were not paid or scheduled.",
                "%(count)d orders delivered; the others were not paid or scheduled.",
                done,
            )
            % {"count": done},
        )

    @admin.action(description=_("Cancel (the reserved stock goes back)"))
    def cancel(self, request, queryset):
        done = sum(order_cancel(order=order, reason=f"cancelled by {request.user}") for order in queryset)
        self.message_user(
            request,
            ngettext(
                "%(count)d order cancelled; the others were delivered or cancelled already.",
                "%(count)d orders cancelled; the others were delivered or cancelled already.",
                done,
            )
            % {"count": done},
        )
