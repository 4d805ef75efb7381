"""Admin for follow-ups, collections and staff tasks."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.db.models import Case, IntegerField, JSONField, Value, When
from django.urls import reverse
from django.utils import timezone
from django.utils.dates import WEEKDAYS
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext, pgettext
from django.utils.translation import gettext_lazy as _

from agents.sales.dunning import InvoiceStateError, invoice_mark_paid
from agents.sales.followup import followup_effectiveness
from bmc.core.admin import ReadOnlyAdmin, ReadOnlyInline
from bmc.core.services import tenant_ensure
from bmc.quotes.admin import QuoteAdmin
from bmc.sales import models


@admin.register(models.FollowUpPolicy)
class FollowUpPolicyAdmin(admin.ModelAdmin):
    formfield_overrides = {JSONField: {"widget": forms.Textarea(attrs={"rows": 1, "cols": 30})}}
    list_display = ("tenant", "enabled", "steps_hours", "max_attempts", "quiet_hours", "quiet_days", "timezone")
    fieldsets = (
        (_("Quote follow-ups"), {"fields": ("tenant", "enabled", "steps_hours", "max_attempts", "expiry_reminder")}),
        (
            _("Sending hours"),
            {
                "fields": ("timezone", "quiet_start", "quiet_end", "quiet_weekdays"),
                "description": _("A follow-up due in quiet hours waits for the next allowed time."),
            },
        ),
        (
            _("Wording and channel"),
            {"fields": ("rewrite_with_model", "whatsapp_template", "whatsapp_template_language")},
        ),
        (
            _("Collections"),
            {
                "fields": (
                    "dunning_enabled",
                    "dunning_firm_after_days",
                    "dunning_staff_after_days",
                    "dunning_repeat_days",
                    "order_wait_days",
                )
            },
        ),
    )

    @admin.display(description=_("Quiet hours"))
    def quiet_hours(self, obj) -> str:
        if obj.quiet_start is None:
            return pgettext("follow-up policy", "none")
        return f"{obj.quiet_start:%H:%M}–{obj.quiet_end:%H:%M}"

    @admin.display(description=_("Days without sends"))
    def quiet_days(self, obj) -> str:
        days = ", ".join(str(WEEKDAYS[d]) for d in sorted(obj.quiet_weekdays or []))
        return days or pgettext("follow-up policy", "none")


@admin.register(models.FollowUp)
class FollowUpAdmin(ReadOnlyAdmin):
    list_display = ("quote_number", "customer", "kind", "step", "due_local", "status", "reason", "delivery")
    list_filter = ("status", "kind", "step", "tenant")
    search_fields = ("customer__phone", "customer__name")
    list_select_related = ("quote", "customer", "message")
    date_hierarchy = "due_at"
    change_list_template = "admin/sales/followup/change_list.html"

    @admin.display(description=_("Quote"), ordering="quote")
    def quote_number(self, obj) -> str:
        return obj.quote.number

    @admin.display(description=_("Due (local)"), ordering="due_at")
    def due_local(self, obj) -> str:
        return date_format(timezone.localtime(obj.due_at), "D d/m H:i")

    @admin.display(description=_("Message"))
    def delivery(self, obj) -> str:
        return obj.message.get_delivery_status_display() if obj.message else "—"

    def changelist_view(self, request, extra_context=None):

        extra_context = {**(extra_context or {}), "effectiveness": followup_effectiveness(tenant_id=tenant_ensure().pk)}
        return super().changelist_view(request, extra_context=extra_context)


class QuoteFollowUpInline(ReadOnlyInline):
    model = models.FollowUp
    fields = ("kind", "step", "due_at", "status", "reason", "sent_at", "message")


# The quote's page (bmc.core.admin) shows its follow-ups too; sales adds them, core importing nothing of sales.
QuoteAdmin.inlines = [*QuoteAdmin.inlines, QuoteFollowUpInline]


class AssignedFilter(admin.SimpleListFilter):
    title = _("assignment")
    parameter_name = "asignada"

    def lookups(self, request, model_admin):
        return [("mias", _("My tasks")), ("nadie", _("Nobody's yet"))]

    def queryset(self, request, queryset):
        if self.value() == "mias":
            return queryset.filter(assigned_to=request.user)
        if self.value() == "nadie":
            return queryset.filter(assigned_to__isnull=True)
        return queryset


@admin.register(models.StaffTask)
class StaffTaskAdmin(admin.ModelAdmin):
    list_display = ("created_at", "kind", "title", "status", "assigned_to", "customer")
    list_filter = ("status", AssignedFilter, "kind")
    search_fields = ("title", "detail", "customer__phone", "customer__name")
    list_select_related = ("customer", "assigned_to")
    readonly_fields = (
        "tenant",
        "kind",
        "title",
        "detail",
        "customer",
        "conversation",
        "quote",
        "invoice",
        "message",
        "dedupe_key",
        "created_at",
        "done_at",
        "done_by",
    )
    fields = ("status", "assigned_to", *readonly_fields)
    actions = ["take", "mark_done"]

    def get_ordering(self, request):
        """Each staff member's own tasks first (an expression: the ordering also serves querysets
        of other pages, such as a form's choices of tasks, that carry no annotation)."""
        mine = Case(When(assigned_to=request.user.pk, then=Value(0)), default=Value(1), output_field=IntegerField())
        return [mine.asc(), "status", "-created_at"]

    @admin.action(description=_("Take the selected tasks"))
    def take(self, request, queryset):
        taken = queryset.filter(status=models.StaffTask.Status.OPEN).update(assigned_to=request.user)
        message = ngettext("%(count)d task is yours now.", "%(count)d tasks are yours now.", taken) % {"count": taken}
        self.message_user(request, message, messages.SUCCESS)

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # agents open them

    def save_model(self, request, obj, form, change):
        if "status" in form.changed_data and obj.status == models.StaffTask.Status.DONE:
            obj.done_at, obj.done_by = timezone.now(), request.user
        super().save_model(request, obj, form, change)

    @admin.action(description=_("Mark selected tasks done"))
    def mark_done(self, request, queryset):
        done = queryset.filter(status=models.StaffTask.Status.OPEN).update(
            status=models.StaffTask.Status.DONE, done_at=timezone.now(), done_by=request.user
        )
        message = ngettext("%(count)d task marked done.", "%(count)d tasks marked done.", done) % {"count": done}
        self.message_user(request, message, messages.SUCCESS)


class PaymentPromiseInline(ReadOnlyInline):
    model = models.PaymentPromise
    fields = ("promised_date", "status", "message", "checked_at", "created_at")


class DunningNoticeInline(ReadOnlyInline):
    model = models.DunningNotice
    fields = ("local_date", "kind", "days_overdue", "message", "staff_task")


@admin.register(models.Invoice)
class InvoiceAdmin(admin.ModelAdmin):
    list_display = (
        "number",
        "customer",
        "amount",
        "currency",
        "due_date",
        "status",
        "balance_due",
        "days_late",
        "receipt_link",
    )
    list_filter = ("status", "currency", "tenant")
    search_fields = ("number", "customer__phone", "customer__name")
    list_select_related = ("customer",)
    autocomplete_fields = ("customer",)
    date_hierarchy = "due_date"
    readonly_fields = ("paid_at", "claimed_at", "receipt", "created_at", "updated_at")
    inlines = [PaymentPromiseInline, DunningNoticeInline]
    actions = ["mark_paid"]

    @admin.display(description=_("Balance"))
    def balance_due(self, obj) -> Decimal:
        return obj.balance  # a number: the admin writes it the staff's way (1.816,95)

    @admin.display(description=_("Days overdue"))
    def days_late(self, obj) -> int:
        return obj.days_overdue(timezone.localdate()) if obj.status != models.Invoice.Status.PAID else 0

    @admin.display(description=_("Receipt"))
    def receipt_link(self, obj) -> str:
        if not obj.receipt_id:
            return "—"
        url = reverse("admin:conversations_message_change", args=[obj.receipt_id])
        return format_html('<a href="{}">{}</a>', url, gettext("message %(id)s") % {"id": obj.receipt_id})

    def save_model(self, request, obj, form, change):
        """Set to paid by hand: paid in full now, and any promise kept, as the action does."""

        marked_paid = change and "status" in form.changed_data and obj.status == models.Invoice.Status.PAID
        if marked_paid:
            obj.status = form.initial["status"]
        super().save_model(request, obj, form, change)
        if marked_paid:
            try:
                invoice_mark_paid(invoice=obj)
            except InvoiceStateError as error:
                self.message_user(request, str(error), messages.WARNING)

    @admin.action(description=_("Mark selected invoices paid (payment confirmed)"))
    def mark_paid(self, request, queryset):

        count = 0
        for invoice in queryset:
            try:
                invoice_mark_paid(invoice=invoice)
                count += 1
            except InvoiceStateError as error:
                self.message_user(request, str(error), messages.WARNING)
        message = ngettext("%(count)d invoice marked paid.", "%(count)d invoices marked paid.", count) % {
            "count": count
        }
        self.message_user(request, message, messages.SUCCESS)


@admin.register(models.DunningNotice)
class DunningNoticeAdmin(ReadOnlyAdmin):
    list_display = ("local_date", "invoice", "kind", "days_overdue", "message", "staff_task")
    list_filter = ("kind", "tenant")
    list_select_related = ("invoice",)


@admin.register(models.PaymentPromise)
class PaymentPromiseAdmin(ReadOnlyAdmin):
    list_display = ("invoice", "promised_date", "status", "checked_at", "created_at")
    list_filter = ("status", "tenant")
    list_select_related = ("invoice",)
