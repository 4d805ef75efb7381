"""Sync sources and runs for operations: what each run read, changed and refused, a source whose
circuit is open, a held price list to approve."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from agents.datasync.runs import COUNTS, SyncBusy, SyncNotConfigured, sync_run_approve, sync_run_start
from agents.quotes.catalog import CatalogError
from bmc.datasync.models import MarketQuestion, Source, SyncLink, SyncRun, SyncSource


@admin.register(SyncSource)
class SyncSourceAdmin(admin.ModelAdmin):
    list_display = ("source", "tenant", "circuit", "failures", "last_success_at", "last_error_short")
    readonly_fields = ("tenant", "source", "cursor", "failures", "open_until", "last_error", "last_success_at")
    actions = ("run_now", "circuit_close")

    def has_add_permission(self, request) -> bool:
        return False  # a source's row is made by its first run

    @admin.display(description=_("Circuit"))
    def circuit(self, source: SyncSource) -> str:
        if source.circuit_open:
            until = date_format(timezone.localtime(source.open_until), "SHORT_DATETIME_FORMAT")
            return format_html(
                '<strong style="color:#ba2121">{}</strong>', gettext("open until %(time)s") % {"time": until}
            )
        return gettext("closed")

    @admin.display(description=_("Last error"))
    def last_error_short(self, source: SyncSource) -> str:
        return source.last_error[:120]

    @admin.action(description=_("Run the selected sources now"), permissions=["change"])
    def run_now(self, request, queryset) -> None:
        for source in queryset:
            _run_now(self, request, source.tenant, source.source)

    @admin.action(description=_("Close the circuit (call the source again at the next run)"), permissions=["change"])
    def circuit_close(self, request, queryset) -> None:
        closed = queryset.update(open_until=None, failures=0)
        message = ngettext("%(count)d source: circuit closed.", "%(count)d sources: circuit closed.", closed)
        self.message_user(request, message % {"count": closed})


def _run_now(model_admin: admin.ModelAdmin, request, tenant, source: str) -> None:
    try:
        run = sync_run_start(tenant=tenant, source=source, trigger="admin")
    except SyncNotConfigured as error:
        model_admin.message_user(request, str(error), level=messages.ERROR)
    except SyncBusy as busy:
        model_admin.message_user(request, str(busy), level=messages.WARNING)
    else:
        label = Source(source).label if source in Source.values else source
        model_admin.message_user(
            request, gettext("Run %(run)s of %(source)s queued.") % {"run": run.pk, "source": label}
        )


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

    @admin.display(description=_("Refused records"))
    def refusals_table(self, run: SyncRun) -> str:
        if not run.refusals:
            return "-"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            ((r.get("row", ""), r.get("sku", r.get("id", "")), r.get("reason", "")) for r in run.refusals),
        )
        return format_html(
            "<table><tr><th>{}</th><th>{}</th><th>{}</th></tr>{}</table>",
            gettext("Row"),
            gettext("Record"),
            gettext("Reason"),
            rows,
        )

    @admin.display(description=_("Held for approval"))
    def held_summary(self, run: SyncRun) -> str:
        if not run.held:
            return "-"
        removed = ", ".join(run.held.get("removed", [])[:50])
        return format_html("{}<br>{} {}", run.held.get("reason", ""), gettext("Removed:"), removed or "-")

    @admin.action(description=_("Approve the selected held price lists (import them)"), permissions=["change"])
    def approve(self, request, queryset) -> None:
        for run in queryset:
            try:
                sync_run_approve(run=run, user=request.user)
            except (ValueError, CatalogError) as error:
                self.message_user(request, str(error), level=messages.ERROR)
            else:
                self.message_user(request, gettext("Run %(run)s: the price list was imported.") % {"run": run.pk})


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
            self.message_user(request, gettext("The answer is posted on MercadoLibre at the next sync."))
        super().save_model(request, obj, form, change)
