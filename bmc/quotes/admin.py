"""Quotes and the catalog in the admin: catalog versions with their products, quotes with their
lines (approve, mark ordered), and the quotes of a conversation on its page."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin, messages
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from agents.conversations.replies import quote_reply_after_approval
from agents.orders.service import OrderRefused, order_place
from agents.outbound import outbound_send_submit
from agents.quotes.document import quote_public_path
from agents.quotes.pricing import QuoteStateError, quote_approve
from agents.sales.followup import followups_stop
from bmc.conversations.admin import ConversationAdmin
from bmc.core.admin import ReadOnlyAdmin, ReadOnlyInline, StaffSearch, facts_html
from bmc.orders.models import Order
from bmc.quotes import models as quotes
from bmc.workspace.present import spec_missing, spec_sentence


def _pdf_link(quote) -> str:

    return (
        format_html("<a href='{}' target='_blank'>{}</a>", quote_public_path(quote), gettext("PDF"))
        if quote.pk
        else "-"
    )


class ConversationQuoteInline(ReadOnlyInline):
    model = quotes.Quote
    fields = ("quote_number", "status", "total", "estimate", "valid_until", "pdf")
    readonly_fields = fields
    show_change_link = True

    @admin.display(description=_("Number"))
    def quote_number(self, obj) -> str:
        return obj.number

    @admin.display(description=_("Document"))
    def pdf(self, obj) -> str:
        return _pdf_link(obj)


class ProductInline(ReadOnlyInline):
    model = quotes.Product
    fields = ("sku", "name", "unit", "price_venta_usd", "price_web_usd")
    readonly_fields = fields


@admin.register(quotes.CatalogVersion)
class CatalogVersionAdmin(ReadOnlyAdmin):
    list_display = ("version", "tenant", "is_current", "product_count", "source", "created_at")
    list_filter = ("tenant", "is_current")
    inlines = [ProductInline]


@admin.register(quotes.Product)
class ProductAdmin(ReadOnlyAdmin):
    list_display = (
        "sku",
        "name",
        "kind",
        "family",
        "thickness_mm",
        "unit",
        "price_venta_usd",
        "price_web_usd",
        "catalog_version",
    )
    list_filter = ("tenant", "kind", "family", "use", "catalog_version__is_current")
    search_fields = ("sku", "name", "family")
    list_select_related = ("catalog_version",)


class QuoteLineInline(ReadOnlyInline):
    model = quotes.QuoteLine
    fields = ("position", "sku", "description", "quantity", "unit", "unit_price", "amount", "reason")
    readonly_fields = fields


@admin.register(quotes.Quote)
class QuoteAdmin(StaffSearch, admin.ModelAdmin):
    list_display = (
        "number",
        "customer",
        "status",
        "total",
        "currency",
        "estimate",
        "requires_approval",
        "valid_until",
        "created_at",
    )
    list_filter = ("status", "requires_approval", "estimate", "tenant")
    search_fields = ("customer__phone", "customer__name", "option_group")
    number_prefix = "COT"
    phone_field = "customer__phone"
    list_select_related = ("customer",)
    date_hierarchy = "created_at"
    actions = ["approve_quotes", "make_orders"]
    inlines = [QuoteLineInline]
    fields = (
        "number",
        "tenant",
        "customer",
        "conversation",
        "status",
        "catalog_version",
        "price_list",
        "spec_pretty",
        "subtotal",
        "iva",
        "total",
        "currency",
        "estimate",
        "requires_approval",
        "option_group",
        "valid_until",
        "approved_by",
        "approved_at",
        "sent_at",
        "decided_at",
        "ordered_at",
        "created_at",
    )
    readonly_fields = tuple(f for f in fields if f != "status")

    # bmc.sales.admin adds the quote's follow-ups: core knows nothing of sales
    inlines = [QuoteLineInline]

    def save_model(self, request, obj, form, change):
        """Staff deciding a quote by hand: it is decided now, and its follow-ups stop."""

        decided = "status" in form.changed_data and obj.status in (
            quotes.Quote.Status.ACCEPTED,
            quotes.Quote.Status.REJECTED,
            quotes.Quote.Status.EXPIRED,
        )
        if decided and obj.status != quotes.Quote.Status.EXPIRED:
            obj.decided_at = timezone.now()
        super().save_model(request, obj, form, change)
        if decided:
            followups_stop(quote_ids=[obj.pk], reason=f"staff marked the quote {obj.status}")

    @admin.action(description=_("Order the selected quotes (sent or accepted): stock reserved, payment asked for"))
    def make_orders(self, request, queryset):
        made, refused = [], []
        for quote in queryset:
            try:
                order = order_place(tenant=quote.tenant, quote_id=quote.pk, source=Order.Source.ADMIN)
            except OrderRefused as error:  # (the admin lists the company's own quotes only)
                refused.append(str(error))
                continue
            made.append(order.number)
        if made:
            self.message_user(
                request,
                ngettext("Order placed: %(orders)s.", "Orders placed: %(orders)s.", len(made))
                % {"orders": ", ".join(made)},
                messages.SUCCESS,
            )
        for reason in refused:
            self.message_user(request, reason, messages.WARNING)

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # quotes are priced by the quote agent, never typed in

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description=_("Number"))
    def number(self, obj) -> str:
        return obj.number

    @admin.display(description=_("Document"))
    def pdf(self, obj) -> str:
        return _pdf_link(obj)

    @admin.display(description=_("Spec"))
    def spec_pretty(self, obj) -> str:
        missing = spec_missing(obj.spec) if obj.estimate else []
        rows = [(gettext("Asked for"), spec_sentence(obj.spec))]
        if missing:
            rows.append((gettext("Still missing"), ", ".join(missing)))
        return facts_html(rows, raw=obj.spec)

    @admin.action(description=_("Approve selected quotes (over 10,000 USD)"), permissions=["approve"])
    def approve_quotes(self, request, queryset):

        approved, sent, refused = 0, 0, []
        for quote in queryset:
            try:
                quote_approve(quote=quote, user=request.user)
            except QuoteStateError as error:
                refused.append(str(error))
                continue
            approved += 1
            reply = quote_reply_after_approval(quote=quote, base_url=settings.PUBLIC_BASE_URL)
            if reply is not None:
                outbound_send_submit(
                    tenant=quote.tenant,
                    message_ids=[reply.pk],
                    trace_id=f"approval-{quote.pk}",
                    requested_by="admin",
                    priority="high",
                )
                sent += 1
        if approved:
            self.message_user(
                request,
                ngettext(
                    "Approved %(approved)d quote; sent to the customer: %(sent)d.",
                    "Approved %(approved)d quotes; sent to the customer: %(sent)d.",
                    approved,
                )
                % {"approved": approved, "sent": sent},
                messages.SUCCESS,
            )
        for reason in refused:
            self.message_user(request, reason, messages.WARNING)

    def has_approve_permission(self, request) -> bool:
        return request.user.has_perm("quotes.approve_quote")


# The conversation's page (bmc.core.admin) shows its quotes too; quotes add them, core importing nothing of quotes.
ConversationAdmin.inlines = [*ConversationAdmin.inlines, ConversationQuoteInline]
