"""The jobs in the admin: every task record with its attempts that did not succeed (cancel,
retry), and the agents' messages."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from agents.conversations.recovery import task_cancel
from bmc.core.admin import ReadOnlyAdmin, ReadOnlyInline, pretty_json
from bmc.jobs.models import AgentMessage, AgentTask, TaskAttempt
from bmc.jobs.records import REPLAYABLE, WAITING
from bmc.jobs.submit import task_dispatch, tasks_replay

STATUS_COLORS = {
    "pending": "#777",
    "queued": "#2a6ebb",
    "running": "#c98a00",
    "completed": "#2e7d32",
    "failed": "#c62828",
    "cancelled": "#555",
    "dead": "#000",
}


class TaskAttemptInline(ReadOnlyInline):
    """Every attempt that did not succeed, and its error: the task itself keeps only the last."""

    model = TaskAttempt
    fields = ("replay", "attempt", "outcome", "worker", "started_at", "finished_at", "error")


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
    list_filter = ("status", "agent", "task_type", "queue", "priority", "tenant")
    search_fields = ("task_id", "task_type", "trace_id", "worker")
    date_hierarchy = "created_at"
    actions = ["cancel_tasks", "retry_tasks"]
    inlines = [TaskAttemptInline]
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
        "replays",
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

    @admin.action(description=_("Retry selected tasks (failed, dead or stuck)"), permissions=["change"])
    def retry_tasks(self, request, queryset):
        """Failed and dead tasks are replayed (a fresh budget of attempts, who asked recorded);
        stuck ones, still waiting, are dispatched again. Completed, cancelled and running ones
        are left as they are, as is a task another operator retried meanwhile."""
        total = queryset.count()
        stuck = list(queryset.filter(status__in=WAITING).values_list("task_id", flat=True))  # before the replays
        replayed = tasks_replay(
            tasks=queryset.filter(status__in=REPLAYABLE).select_related("tenant"),
            requested_by="admin",
            replayed_by=request.user.get_username(),
        )
        # conditional again: a task that started or finished since the page was read is left alone
        AgentTask.objects.filter(task_id__in=stuck, status__in=WAITING).update(status=AgentTask.Status.PENDING)
        done = len(replayed) + sum(task_dispatch(task_id=str(task_id)) for task_id in stuck)
        message = ngettext(
            "Retried %(done)d of %(total)d task; completed, cancelled and running ones are left as they are.",
            "Retried %(done)d of %(total)d tasks; completed, cancelled and running ones are left as they are.",
            total,
        )
        level = messages.SUCCESS if done == total else messages.WARNING
        self.message_user(request, message % {"done": done, "total": total}, level)


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
