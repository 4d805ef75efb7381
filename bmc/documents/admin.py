"""Admin for document batches: upload, a progress bar that moves, and the review queue where a
person sees each doubtful document beside what the agent read from it."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from agents.documents.flow import batch_submit
from agents.documents.intake import DocumentError, Upload
from agents.documents.progress import progress_percent
from agents.documents.review import REVIEWABLE_FIELDS, document_review
from bmc.core.admin import ReadOnlyInline, facts_html
from bmc.core.services import tenant_ensure
from bmc.documents import models
from bmc.documents.files import document_file_response


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Django's recipe for a field that takes many files."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        return [single(item, initial) for item in data] if isinstance(data, list | tuple) else [single(data, initial)]


class BatchUploadForm(forms.Form):
    name = forms.CharField(label=_("Name"), required=False, max_length=200, help_text=_("e.g. 'Facturas de la semana'"))
    files = MultipleFileField(
        label=_("Files"), help_text=_("PDF, PNG, JPEG, TXT, CSV, XLSX or EML; at most 20 MB each.")
    )


class DocumentInline(ReadOnlyInline):
    model = models.Document
    fields = ("link", "file_type", "kind", "status", "stage", "quality", "review", "error")

    def get_queryset(self, request):
        # what the rows show, not each document's text (up to 200,000 characters) and fields
        shown = ("filename", "file_type", "kind", "status", "stage", "quality", "review", "error", "batch")
        return super().get_queryset(request).only(*shown)

    @admin.display(description=_("Document"))
    def link(self, obj) -> str:
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:documents_document_change", args=[obj.pk]), obj.filename
        )


def progress_bar(batch) -> str:
    """From the counts DocumentBatchAdmin.get_queryset adds to each batch (one query per page)."""

    done, failed, total = batch.done_count, batch.failed_count, batch.total
    text = gettext("%(done)s of %(total)s (%(percent)s %%)") % {
        "done": done,
        "total": total,
        "percent": progress_percent(done, total),
    }
    if failed:
        text += " · " + ngettext("%(count)s failed", "%(count)s failed", failed) % {"count": failed}
    return format_html('<progress value="{}" max="{}" style="width: 240px"></progress> {}', done, total or 1, text)


@admin.register(models.DocumentBatch)
class DocumentBatchAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "source", "status", "progress", "created_at", "finished_at")
    list_filter = ("status", "source", "tenant")
    readonly_fields = (
        "name",
        "source",
        "status",
        "progress",
        "total",
        "summary_readable",
        "created_by",
        "created_at",
        "finished_at",
    )
    fields = readonly_fields
    inlines = [DocumentInline]
    change_form_template = "admin/documents/documentbatch/change_form.html"

    @admin.display(description=_("Summary"))
    def summary_readable(self, obj) -> str:
        """The batch's summary as counts a person reads, the stored JSON folded beneath."""
        summary = obj.summary or {}
        if not summary:
            return "—"
        statuses, kinds = dict(models.Document.Status.choices), dict(models.Document.Kind.choices)
        rows = [(gettext("Documents"), summary.get("documents", 0))]
        rows += [(statuses.get(status, status), count) for status, count in (summary.get("by_status") or {}).items()]
        rows += [
            (kinds.get(kind, gettext("not recognised")), count)
            for kind, count in (summary.get("by_kind") or {}).items()
        ]
        rows.append((gettext("To review"), summary.get("to_review", 0)))
        if summary.get("quality") is not None:
            rows.append((gettext("Average confidence"), f"{round(summary['quality'] * 100)} %"))
        rows += [(gettext("Finding"), finding) for finding in summary.get("findings") or []]
        return facts_html(rows, raw=summary)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                done_count=Count("documents", filter=Q(documents__status__in=models.Document.FINAL)),
                failed_count=Count("documents", filter=Q(documents__status=models.Document.Status.FAILED)),
            )
        )

    @admin.display(description=_("Progress"))
    def progress(self, obj) -> str:
        return progress_bar(obj)

    def add_view(self, request, form_url="", extra_context=None):
        """Upload: many files at once become a batch, started at once."""

        if not self.has_add_permission(request):
            raise PermissionDenied
        form = BatchUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            # a file over the limit is recorded failed from its first bytes, never read whole
            uploads = [Upload.from_file(f) for f in form.cleaned_data["files"]]
            batch = batch_submit(
                tenant=tenant_ensure(),
                uploads=uploads,
                source=models.DocumentBatch.Source.ADMIN,
                name=form.cleaned_data["name"],
                user=request.user,
            )
            message = ngettext(
                "Batch %(batch)s: %(count)d document on its way.",
                "Batch %(batch)s: %(count)d documents on their way.",
                batch.total,
            ) % {"batch": batch.pk, "count": batch.total}
            self.message_user(request, message, messages.SUCCESS)
            return HttpResponseRedirect(reverse("admin:documents_documentbatch_change", args=[batch.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Upload documents"),
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/documents/documentbatch/upload.html", context)


@admin.register(models.Document)
class DocumentAdmin(admin.ModelAdmin):
    list_display = ("filename", "batch", "file_type", "kind", "status", "quality", "review", "review_reason")
    list_filter = ("review", "status", "kind", "file_type", "tenant")
    search_fields = ("filename", "sha256", "fields__number")
    list_select_related = ("batch",)
    change_form_template = "admin/documents/document/review.html"

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # documents come in batches

    def get_urls(self):
        return [
            path("<int:document_id>/file/", self.admin_site.admin_view(self.file_view), name="documents_document_file"),
            *super().get_urls(),
        ]

    def file_view(self, request, document_id: int):

        document = get_object_or_404(models.Document.objects.select_related("blob"), pk=document_id)
        if not self.has_view_or_change_permission(request, document):
            raise PermissionDenied
        return document_file_response(document)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """The document beside what was read from it; approve, correct or reject."""

        document = get_object_or_404(models.Document, pk=object_id)
        if not self.has_view_or_change_permission(request, document):
            raise PermissionDenied
        if request.method == "POST":
            if not self.has_change_permission(request, document):
                raise PermissionDenied
            action = request.POST.get("action")
            if action not in ("approve", "reject"):
                self.message_user(request, gettext("Choose Approve or Reject."), messages.ERROR)
                return HttpResponseRedirect(request.path)
            corrections = {
                field: request.POST[field].strip()
                for field in REVIEWABLE_FIELDS
                if field in request.POST
                and request.POST[field].strip()
                != str((document.kind if field == "kind" else document.fields.get(field)) or "")
            }
            try:
                failing = document_review(
                    document=document,
                    action={"approve": "correct" if corrections else "approve"}.get(action, action),
                    corrections=corrections if action in ("approve", "correct") else {},
                    user=request.user,
                    via="admin",
                    note=request.POST.get("note", ""),
                )
            except DocumentError as error:
                self.message_user(request, str(error), messages.ERROR)
                return HttpResponseRedirect(request.path)
            if failing:
                self.message_user(
                    request,
                    gettext("Corrections kept, but the checks still fail, so it waits for review: %(failing)s")
                    % {"failing": "; ".join(c["detail"] for c in failing)},
                    messages.WARNING,
                )
                return HttpResponseRedirect(request.path)
            document.refresh_from_db()
            self.message_user(
                request,
                gettext("%(filename)s: %(review)s.")
                % {"filename": document.filename, "review": document.get_review_display().lower()},
                messages.SUCCESS,
            )
            following = (
                models.Document.objects.filter(tenant_id=document.tenant_id, review=models.Document.Review.PENDING)
                .order_by("pk")
                .first()
            )
            target = following.pk if following else document.pk
            return HttpResponseRedirect(reverse("admin:documents_document_change", args=[target]))
        values = [
            (
                field,
                models.FIELD_LABELS.get(field, field),
                document.kind if field == "kind" else document.fields.get(field, ""),
            )
            for field in REVIEWABLE_FIELDS
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Review %(filename)s") % {"filename": document.filename},
            "document": document,
            "original": document,
            "opts": self.model._meta,
            "values": values,
            "kinds": models.Document.Kind.choices,
            "file_url": reverse("admin:documents_document_file", args=[document.pk]),
            "lines": document.fields.get("lines", []),
            "corrections": document.corrections.all(),
            "can_change": self.has_change_permission(request, document),
        }
        return TemplateResponse(request, self.change_form_template, context)


class CorrectedFieldFilter(admin.SimpleListFilter):
    title = _("field")
    parameter_name = "field"

    def lookups(self, request, model_admin):
        return list(models.FIELD_LABELS.items())

    def queryset(self, request, queryset):
        return queryset.filter(field=self.value()) if self.value() else queryset


@admin.register(models.DocumentCorrection)
class DocumentCorrectionAdmin(admin.ModelAdmin):
    list_display = ("created_at", "document", "field_shown", "extracted", "corrected", "user", "via")
    list_filter = (CorrectedFieldFilter, "tenant")
    readonly_fields = ("document", "field_shown", "extracted", "corrected", "user", "via", "created_at")
    exclude = ("field",)  # shown by its label (field_shown), never edited

    @admin.display(description=_("field"), ordering="field")
    def field_shown(self, obj) -> str:
        return obj.field_label

    def has_add_permission(self, request, obj=None) -> bool:
        return False
