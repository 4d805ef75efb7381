from __future__ import annotations

import json

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import Count
from django.utils import timezone
from django.utils.html import format_html
from rest_framework_api_key.admin import APIKeyModelAdmin
from rest_framework_api_key.models import APIKey as LibraryAPIKey

from agents.conversation import quote_reply_after_approval
from agents.followup import followups_stop
from agents.outbound import outbound_reply_create, outbound_send_submit
from agents.quote import QuoteStateError, quote_approve
from agents.quote_document import quote_public_path
from bmc.core import models

# The library's own, tenant-less key model is not used: keys are core.ApiKey, per tenant.
if admin.site.is_registered(LibraryAPIKey):
    admin.site.unregister(LibraryAPIKey)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Audit records: visible, never edited or deleted by hand."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ReadOnlyInline(admin.TabularInline):
    """Rows shown inside their parent, never added or edited there."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def get_readonly_fields(self, request, obj=None):
        return self.fields or super().get_readonly_fields(request, obj)


def pretty_json(value) -> str:
    return format_html(
        "<pre style='white-space:pre-wrap;margin:0'>{}</pre>",
        json.dumps(value, indent=2, ensure_ascii=False, default=str),
    )


@admin.register(models.Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ("slug", "name", "tier", "whatsapp_phone_number_id", "created_at")
    list_filter = ("tier",)
    search_fields = ("slug", "name")


@admin.register(models.ApiKey)
class ApiKeyAdmin(APIKeyModelAdmin):
    list_display = (*APIKeyModelAdmin.list_display, "tenant")
    list_filter = (*APIKeyModelAdmin.list_filter, "tenant")
    search_fields = (*APIKeyModelAdmin.search_fields, "tenant__slug")


@admin.register(models.Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("phone", "name", "email", "zone", "opted_out", "tenant", "created_at")
    list_filter = ("tenant", "zone", "opted_out")
    search_fields = ("phone", "name", "email")
    readonly_fields = ("created_at", "updated_at", "opted_out_at")

    def save_model(self, request, obj, form, change):
        """Opted out by staff (the customer asked by phone): nothing more is sent."""

        opting_out = "opted_out" in form.changed_data and obj.opted_out
        if opting_out:
            obj.opted_out_at = timezone.now()
        super().save_model(request, obj, form, change)
        if opting_out:
            followups_stop(customer_id=obj.pk, reason="the customer opted out")


class MessageInline(ReadOnlyInline):
    model = models.Message
    fields = ("created_at", "direction", "channel", "text", "intent", "delivery_status")
    readonly_fields = fields
    show_change_link = True


def _pdf_link(quote) -> str:

    return format_html("<a href='{}' target='_blank'>PDF</a>", quote_public_path(quote)) if quote.pk else "-"


class ConversationQuoteInline(ReadOnlyInline):
    model = models.Quote
    fields = ("quote_number", "status", "total", "estimate", "valid_until", "pdf")
    readonly_fields = fields
    show_change_link = True

    @admin.display(description="Number")
    def quote_number(self, obj) -> str:
        return obj.number

    @admin.display(description="Document")
    def pdf(self, obj) -> str:
        return _pdf_link(obj)


class ConversationForm(forms.ModelForm):
    staff_reply = forms.CharField(
        label="Reply to the customer",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        help_text="Sent through the configured channel when you save. Taking over silences the bot.",
    )

    class Meta:
        model = models.Conversation
        fields = ("state", "assigned_to")


@admin.register(models.Conversation)
class ConversationAdmin(admin.ModelAdmin):
    form = ConversationForm
    list_display = ("id", "customer", "channel", "state", "assigned_to", "message_count", "last_message_at")
    list_filter = ("tenant", "state", "channel", "assigned_to")
    search_fields = ("customer__phone", "customer__name")
    list_select_related = ("customer", "assigned_to")
    readonly_fields = ("customer", "channel", "dialogue_pretty", "created_at", "last_message_at")
    fields = (
        "customer",
        "channel",
        "state",
        "assigned_to",
        "dialogue_pretty",
        "staff_reply",
        "created_at",
        "last_message_at",
    )
    inlines = [MessageInline, ConversationQuoteInline]
    actions = ["take_over", "release_to_bot"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(message_total=Count("messages"))

    @admin.display(description="Messages", ordering="message_total")
    def message_count(self, obj) -> int:
        return obj.message_total

    @admin.display(description="Dialogue state")
    def dialogue_pretty(self, obj) -> str:
        return pretty_json(obj.dialogue)

    def save_model(self, request, obj, form, change):
        reply = form.cleaned_data.get("staff_reply", "").strip()
        if reply:
            obj.state = models.Conversation.State.HANDOFF
            obj.assigned_to = obj.assigned_to or request.user
        if change:
            # only what staff edit here: the dialogue and a running turn's hold are the agent's, and
            # writing back the copies read when the page opened would undo them
            obj.save(update_fields=["state", "assigned_to"])
        else:
            super().save_model(request, obj, form, change)
        if reply:
            message = outbound_reply_create(conversation=obj, text=reply)
            outbound_send_submit(
                tenant=obj.tenant,
                message_ids=[message.pk],
                trace_id=f"admin-{request.user.pk}",
                requested_by="admin",
                priority="high",
            )
            self.message_user(
                request, "Reply queued for sending; the bot stays quiet until you release the conversation."
            )

    @admin.action(description="Take over (the bot stays quiet)")
    def take_over(self, request, queryset):
        done = queryset.update(state=models.Conversation.State.HANDOFF, assigned_to=request.user)
        self.message_user(request, f"You now handle {done} conversation(s).")

    @admin.action(description="Release to the bot")
    def release_to_bot(self, request, queryset):
        done = queryset.update(state=models.Conversation.State.OPEN, assigned_to=None)
        self.message_user(request, f"The bot answers {done} conversation(s) again.")


@admin.register(models.Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ("created_at", "direction", "channel", "customer_phone", "short_text", "intent", "delivery_status")
    list_filter = ("tenant", "direction", "channel", "delivery_status", "intent")
    search_fields = ("text", "external_id", "conversation__customer__phone")
    list_select_related = ("conversation__customer",)
    readonly_fields = ("raw_payload_pretty", "created_at")
    exclude = ("raw_payload",)
    date_hierarchy = "created_at"

    @admin.display(description="Customer")
    def customer_phone(self, obj) -> str:
        return obj.conversation.customer.phone

    @admin.display(description="Text")
    def short_text(self, obj) -> str:
        return obj.text[:80]

    @admin.display(description="Raw payload")
    def raw_payload_pretty(self, obj) -> str:
        return pretty_json(obj.raw_payload)


class ProductInline(ReadOnlyInline):
    model = models.Product
    fields = ("sku", "name", "unit", "price_venta_usd", "price_web_usd")
    readonly_fields = fields


@admin.register(models.CatalogVersion)
class CatalogVersionAdmin(ReadOnlyAdmin):
    list_display = ("version", "tenant", "is_current", "product_count", "source", "created_at")
    list_filter = ("tenant", "is_current")
    inlines = [ProductInline]


@admin.register(models.Product)
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
    model = models.QuoteLine
    fields = ("position", "sku", "description", "quantity", "unit", "unit_price", "amount", "reason")
    readonly_fields = fields


@admin.register(models.Quote)
class QuoteAdmin(admin.ModelAdmin):
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
    list_select_related = ("customer",)
    date_hierarchy = "created_at"
    actions = ["approve_quotes", "mark_ordered"]
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
            models.Quote.Status.ACCEPTED,
            models.Quote.Status.REJECTED,
            models.Quote.Status.EXPIRED,
        )
        if decided and obj.status != models.Quote.Status.EXPIRED:
            obj.decided_at = timezone.now()
        super().save_model(request, obj, form, change)
        if decided:
            followups_stop(quote_ids=[obj.pk], reason=f"staff marked the quote {obj.status}")

    @admin.action(description="Mark selected accepted quotes as ordered")
    def mark_ordered(self, request, queryset):
        done = queryset.filter(status=models.Quote.Status.ACCEPTED, ordered_at__isnull=True).update(
            ordered_at=timezone.now()
        )
        self.message_user(request, f"{done} quote(s) marked as ordered.", messages.SUCCESS)

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # quotes are priced by the quote agent, never typed in

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Number")
    def number(self, obj) -> str:
        return obj.number

    @admin.display(description="Document")
    def pdf(self, obj) -> str:
        return _pdf_link(obj)

    @admin.display(description="Spec")
    def spec_pretty(self, obj) -> str:
        return pretty_json(obj.spec)

    @admin.action(description="Approve selected quotes (over 10,000 USD)", permissions=["approve"])
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
            self.message_user(request, f"Approved {approved} quote(s); {sent} sent to the customer.", messages.SUCCESS)
        for reason in refused:
            self.message_user(request, reason, messages.WARNING)

    def has_approve_permission(self, request) -> bool:
        return request.user.has_perm("core.approve_quote")
