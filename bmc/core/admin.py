from __future__ import annotations

import json

from django.contrib import admin, messages
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
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
