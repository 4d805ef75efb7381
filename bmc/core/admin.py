from __future__ import annotations

import json

from django.contrib import admin
from django.utils.html import format_html
from rest_framework_api_key.admin import APIKeyModelAdmin
from rest_framework_api_key.models import APIKey as LibraryAPIKey

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
