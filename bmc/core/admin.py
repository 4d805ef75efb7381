from __future__ import annotations

import json
from datetime import timedelta

from django.contrib import admin, messages
from django.db.models import Q
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from rest_framework_api_key.admin import APIKeyModelAdmin
from rest_framework_api_key.models import APIKey as LibraryAPIKey

from bmc.core import models
from bmc.core.limits import tier_limits, usage_this_month, usage_today
from bmc.core.search import conversations_saying, phone_e164, record_number_id

# The library's own, tenant-less key model is not used: keys are core.ApiKey, per tenant.
if admin.site.is_registered(LibraryAPIKey):
    admin.site.unregister(LibraryAPIKey)


class StaffSearch:
    """A change list's search as staff type it, beside the fields' own: a record's number
    (`number_prefix`: 'COT-000003', 'cot 3'), a phone written locally (`phone_field`: '099 123
    456' is +59899123456), words its conversation's messages say (`words_in_messages`)."""

    number_prefix: str | None = None
    phone_field: str | None = None
    words_in_messages = False

    def get_search_results(self, request, queryset, search_term):
        results, distinct = super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        if not term:
            return results, distinct
        found = Q(pk__in=results.values("pk"))
        if self.number_prefix and (record_id := record_number_id(term, self.number_prefix)) is not None:
            found |= Q(pk=record_id)
        if self.phone_field and (phone := phone_e164(term)):
            found |= Q(**{self.phone_field: phone})
        if self.words_in_messages:
            found |= Q(pk__in=conversations_saying(queryset.model.objects.all(), term).values("pk"))
        return queryset.filter(found), distinct


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


def facts_html(rows, raw=None) -> str:
    """Label and value pairs as a definition list, for people; the stored JSON, if given, folded
    beneath for whoever needs it."""
    facts = format_html_join("", "<dt>{}</dt><dd>{}</dd>", rows)
    folded = (
        format_html("<details><summary>{}</summary>{}</details>", gettext("As stored"), pretty_json(raw)) if raw else ""
    )
    return format_html('<dl class="ws-facts">{}</dl>{}', facts, folded)


def pretty_json(value) -> str:
    return format_html(
        "<pre style='white-space:pre-wrap;margin:0'>{}</pre>",
        json.dumps(value, indent=2, ensure_ascii=False, default=str),
    )


class TenantUsageInline(admin.TabularInline):
    model = models.TenantUsage
    fields = ("day", "messages", "documents", "model_tokens", "model_cost")
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    verbose_name_plural = _("usage of the last 31 days")

    def get_queryset(self, request):
        return super().get_queryset(request).filter(day__gte=timezone.localdate() - timedelta(days=30))


@admin.register(models.Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ("slug", "name", "tier", "whatsapp_phone_number_id", "created_at")
    list_filter = ("tier",)
    search_fields = ("slug", "name")
    readonly_fields = ("usage_now",)
    inlines = [TenantUsageInline]

    @admin.display(description=_("usage against the tier's limits"))
    def usage_now(self, obj) -> str:
        if obj.pk is None:
            return "-"
        limits = tier_limits(obj.tier)
        today, month = usage_today(tenant_id=obj.pk), usage_this_month(tenant_id=obj.pk)
        unlimited = gettext("no limit")

        def of(used: int, limit: int | None) -> str:
            return f"{used:n} / {limit:n}" if limit is not None else f"{used:n} ({unlimited})"

        rows = [
            (gettext("API requests per second per key"), f"{limits.requests_per_second:g} (burst {limits.burst})"),
            (gettext("Messages today"), of(today.get("messages", 0), limits.messages_per_day)),
            (gettext("Documents this month"), of(month.get("documents", 0), limits.documents_per_month)),
            (gettext("Model tokens this month"), of(month.get("model_tokens", 0), limits.model_tokens_per_month)),
            (gettext("Model cost this month (USD)"), f"{month.get('model_cost_micro_usd', 0) / 1_000_000:.2f}"),
        ]
        return format_html("<table>{}</table>", format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows))


@admin.register(models.ApiKey)
class ApiKeyAdmin(APIKeyModelAdmin):
    # the library's columns, its "Has expired" (a text of its own, not translated) as ours
    list_display = ("prefix", "name", "created", "expiry_date", "expired", "revoked", "tenant")
    list_filter = (*APIKeyModelAdmin.list_filter, "tenant")
    search_fields = (*APIKeyModelAdmin.search_fields, "tenant__slug")

    @admin.display(description=_("has expired"), boolean=True)
    def expired(self, obj) -> bool:
        return obj.has_expired

    def save_model(self, request, obj, form=None, change=False) -> None:
        """The library's, with its one message in the staff's language: a new key is shown once."""
        if obj.pk:
            obj.save()
            return
        key = self.model.objects.assign_key(obj)
        obj.save()
        self.message_user(
            request,
            gettext("The API key for %(name)s is: %(key)s. Store it somewhere safe: it is not shown again.")
            % {"name": obj.name, "key": key},
            messages.WARNING,
        )
