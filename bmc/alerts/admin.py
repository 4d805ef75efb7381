"""Alert rules edited by operations; alerts and their notices read (the page of open and recent
alerts is the alerts' list: open first, newest first)."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from bmc.alerts.models import Alert, AlertNotice, AlertRule


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "target", "threshold", "window_minutes", "repeat_minutes", "enabled")
    list_filter = ("kind", "enabled")
    list_editable = ("threshold", "enabled")
    search_fields = ("name", "target")
    fieldsets = (
        (None, {"fields": ("name", "kind", "enabled", "target")}),
        (
            _("When it is raised"),
            {"fields": ("threshold", "window_minutes", "minimum", "for_minutes", "repeat_minutes")},
        ),
        (_("Who is told"), {"fields": ("notify_staff", "notify_n8n", "notify_email", "email_to")}),
    )


class AlertNoticeInline(admin.TabularInline):
    model = AlertNotice
    fields = ("created_at", "kind", "channel", "status", "sent_at", "error")
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ("rule", "subject", "state", "value", "raised_at", "last_seen_at", "resolved_at", "notices")
    list_filter = ("state", "rule__kind", "rule")
    search_fields = ("rule__name", "subject", "detail")
    readonly_fields = (
        "rule",
        "subject",
        "state",
        "value",
        "detail",
        "first_seen_at",
        "raised_at",
        "last_seen_at",
        "last_notified_at",
        "notices",
        "resolved_at",
    )
    inlines = [AlertNoticeInline]
    date_hierarchy = "first_seen_at"

    def has_add_permission(self, request) -> bool:  # raised by the rules only
        return False
