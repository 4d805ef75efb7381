"""Sync sources and runs for operations: what each run read, changed and refused, a source whose
circuit is open, a held price list to approve."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join

from agents.datasync.runs import COUNTS, SyncBusy, SyncNotConfigured, sync_run_approve, sync_run_start
from agents.quotes.catalog import CatalogError
from bmc.datasync.models import MarketQuestion, SyncLink, SyncRun, SyncSource


@admin.register(SyncSource)
class SyncSourceAdmin(admin.ModelAdmin):
    list_display = ("source", "tenant", "circuit", "failures", "last_success_at", "last_error_short")
    readonly_fields = ("tenant", "source", "cursor", "failures", "open_until", "last_error", "last_success_at")
    actions = ("run_now", "circuit_close")

    def has_add_permission(self, request) -> bool:
        return False  # a source's row is made by its first run

    @admin.display(description="Circuit")
    def circuit(self, source: SyncSource) -> str:
        if source.circuit_open:
            return format_html(
                '<strong style="color:#ba2121">open until {}</strong>', f"{source.open_until:%d/%m/%Y %H:%M}"
            )
        return "closed"

    @admin.display(description="Last error")
    def last_error_short(self, source: SyncSource) -> str:
        return source.last_error[:120]

    @admin.action(description="Run the selected sources now", permissions=["change"])
    def run_now(self, request, queryset) -> None:
        for source in queryset:
            _run_now(self, request, source.tenant, source.source)

    @admin.action(description="Close the circuit (call the source again at the next run)", permissions=["change"])
    def circuit_close(self, request, queryset) -> None:
        closed = queryset.update(open_until=None, failures=0)
        self.message_user(request, f"{closed} source(s): circuit closed.")


def _run_now(model_admin: admin.ModelAdmin, request, tenant, source: str) -> None:
    try:
        run = sync_run_start(tenant=tenant, source=source, trigger="admin")
    except SyncNotConfigured as error:
        model_admin.message_user(request, str(error), level=messages.ERROR)
    except SyncBusy as busy:
        model_admin.message_user(request, str(busy), level=messages.WARNING)
    else:
        model_admin.message_user(request, f"Run {run.pk} of {source} queued.")


@admin.register(SyncRun)
class SyncRunAdmin(admin.ModelAdmin):
    list_display = ("id", "source", "status", "trigger", *COUNTS, "api_calls", "created_at", "finished_at")
    list_filter = ("status", "source", "trigger")
    fields = (
        ("tenant", "source", "status", "trigger"),
        COUNTS,
        "api_calls",
        "refusals_table",
        "held_summary",
        "error",
        "detail",
        "approved_by",
        ("created_at", "started_at", "finished_at"),
    )
    readonly_fields = tuple(name for group in fields for name in ((group,) if isinstance(group, str) else group))
    actions = ("approve",)

    def has_add_permission(self, request) -> bool:
        return False

    @admin.display(description="Refused")
    def refusals_table(self, run: SyncRun) -> str:
        if not run.refusals:
            return "-"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            ((r.get("row", ""), r.get("sku", r.get("id", "")), r.get("reason", "")) for r in run.refusals),
        )
        return format_html("<table><tr><th>Row</th><th>Record</th><th>Reason</th></tr>{}</table>", rows)

    @admin.display(description="Held for approval")
    def held_summary(self, run: SyncRun) -> str:
        if not run.held:
            return "-"
        removed = ", ".join(run.held.get("removed", [])[:50])
        return format_html("{}<br>Removed: {}", run.held.get("reason", ""), removed or "-")

    @admin.action(description="Approve the selected held price lists (import them)", permissions=["change"])
    def approve(self, request, queryset) -> None:
        for run in queryset:
            try:
                sync_run_approve(run=run, user=request.user)
            except (ValueError, CatalogError) as error:
                self.message_user(request, str(error), level=messages.ERROR)
            else:
                self.message_user(request, f"Run {run.pk}: the price list was imported.")


@admin.register(SyncLink)
class SyncLinkAdmin(admin.ModelAdmin):
    list_display = ("source", "kind", "local_id", "remote_id", "synced_at")
    list_filter = ("source", "kind")
    search_fields = ("local_id", "remote_id")
    readonly_fields = ("tenant", "source", "kind", "local_id", "remote_id", "checksum", "synced_at")


@admin.register(MarketQuestion)
class MarketQuestionAdmin(admin.ModelAdmin):
    """A question left to staff: they write the answer here; the next MercadoLibre run posts it."""

    list_display = ("question_id", "source", "item_id", "text", "status", "asked_at", "answered_at")
    list_filter = ("status", "source")
    search_fields = ("question_id", "item_id", "text", "answer")
    fields = (
        "source",
        "question_id",
        "item_id",
        "text",
        "status",
        "error",
        "answer",
        "answered_by",
        "asked_at",
        "answered_at",
    )
    readonly_fields = (
        "source",
        "question_id",
        "item_id",
        "text",
        "status",
        "error",
        "answered_by",
        "asked_at",
        "answered_at",
    )

    def has_add_permission(self, request) -> bool:
        return False

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.status != MarketQuestion.Status.STAFF:
            return (*self.readonly_fields, "answer")  # posted, or being posted: no longer editable
        return self.readonly_fields

    def save_model(self, request, obj, form, change) -> None:
        if "answer" in form.changed_data and obj.answer.strip():
            obj.answered_by = request.user
            self.message_user(request, "La respuesta se publica en MercadoLibre en la próxima sincronización.")
        super().save_model(request, obj, form, change)
