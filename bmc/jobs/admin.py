"""The jobs in the admin: every task record (cancel, dispatch again), and the agents' messages."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from agents.conversations.recovery import task_cancel
from bmc.core.admin import ReadOnlyAdmin, pretty_json
from bmc.jobs.models import AgentMessage, AgentTask
from bmc.jobs.submit import task_dispatch

STATUS_COLORS = {
    "pending": "#777",
    "queued": "#2a6ebb",
    "running": "#c98a00",
    "completed": "#2e7d32",
    "failed": "#c62828",
    "cancelled": "#555",
    "dead": "#000",
}


@admin.register(AgentTask)
class AgentTaskAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "task_type",
        "agent",
        "status_badge",
        "priority",
        "attempts",
        "processing_time_ms",
        "tenant",
    )
    list_filter = ("status", "agent", "queue", "priority", "tenant")
    search_fields = ("task_id", "task_type", "trace_id", "worker")
    date_hierarchy = "created_at"
    actions = ["cancel_tasks", "redispatch_tasks"]
    fields = (
        "task_id",
        "tenant",
        "task_type",
        "agent",
        "queue",
        "priority",
        "status",
        "attempts",
        "dispatches",
        "required_capabilities",
        "payload_pretty",
        "metadata_pretty",
        "result_pretty",
        "error",
        "trace_id",
        "worker",
        "created_at",
        "queued_at",
        "started_at",
        "finished_at",
        "processing_time_ms",
    )
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # Every field is read-only: change permission is for the actions, not for editing.
        extra_context = {**(extra_context or {}), "show_save": False, "show_save_and_continue": False}
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description=_("Status"), ordering="status")
    def status_badge(self, obj) -> str:
        return format_html(
            "<b style='color:{}'>{}</b>", STATUS_COLORS.get(obj.status, "#000"), obj.get_status_display()
        )

    @admin.display(description=_("Payload"))
    def payload_pretty(self, obj) -> str:
        return pretty_json(obj.payload)

    @admin.display(description=_("Metadata"))
    def metadata_pretty(self, obj) -> str:
        return pretty_json(obj.metadata)

    @admin.display(description=_("Result"))
    def result_pretty(self, obj) -> str:
        return pretty_json(obj.result)

    @admin.action(description=_("Cancel selected tasks (not yet finished)"), permissions=["change"])
    def cancel_tasks(self, request, queryset):
        done = sum(task_cancel(task=task) for task in queryset)
        total = queryset.count()
        message = ngettext(
            "Cancelled %(done)d of %(total)d task; finished ones are left as they are.",
            "Cancelled %(done)d of %(total)d tasks; finished ones are left as they are.",
            total,
        )
        self.message_user(request, message % {"done": done, "total": total})

    @admin.action(description=_("Dispatch again (failed, dead or stuck tasks)"), permissions=["change"])
    def redispatch_tasks(self, request, queryset):
        statuses = (
            AgentTask.Status.FAILED,
            AgentTask.Status.DEAD,
            AgentTask.Status.PENDING,
            AgentTask.Status.QUEUED,
        )
        ids = list(queryset.filter(status__in=statuses).values_list("task_id", flat=True))
        # conditional again: a task that started or finished since the page was read is left alone
        AgentTask.objects.filter(task_id__in=ids, status__in=statuses).update(status=AgentTask.Status.PENDING)
        sent = sum(task_dispatch(task_id=str(task_id)) for task_id in ids)
        level = messages.SUCCESS if sent == len(ids) else messages.WARNING
        message = ngettext(
            "Dispatched %(sent)d of %(total)d task.", "Dispatched %(sent)d of %(total)d tasks.", len(ids)
        )
        self.message_user(request, message % {"sent": sent, "total": len(ids)}, level)


@admin.register(AgentMessage)
class AgentMessageAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "type", "from_agent", "to_agent", "intent", "priority", "trace_id")
    list_filter = ("type", "from_agent", "to_agent", "tenant")
    search_fields = ("trace_id", "span_id", "intent", "message_id")
    date_hierarchy = "created_at"
    readonly_fields = ("payload_pretty",)
    exclude = ("payload",)

    @admin.display(description=_("Payload"))
    def payload_pretty(self, obj) -> str:
        return pretty_json(obj.payload)
