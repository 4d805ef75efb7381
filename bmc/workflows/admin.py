"""Admin for workflows: definitions checked as they are saved (each change a new version), and
each run's timeline, where a person approves or rejects a step that waits for them."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from agents.workflows.definitions import definition_errors, workflow_definition_save
from agents.workflows.engine import workflow_run_cancel, workflow_step_decide
from bmc.core.admin import ReadOnlyInline, pretty_json
from bmc.core.services import tenant_ensure
from bmc.workflows.models import WorkflowDefinition, WorkflowRun, WorkflowStep


class DefinitionForm(forms.ModelForm):
    spec = forms.JSONField(
        label=_("Spec"),
        help_text=WorkflowDefinition._meta.get_field("spec").help_text,
        widget=forms.Textarea(attrs={"rows": 24, "cols": 100, "style": "font-family: monospace"}),
    )

    class Meta:
        model = WorkflowDefinition
        fields = ("name", "description", "spec")

    def clean_spec(self):
        spec = self.cleaned_data["spec"]
        errors = definition_errors(spec)
        if errors:
            raise forms.ValidationError(errors)
        return spec


@admin.register(WorkflowDefinition)
class WorkflowDefinitionAdmin(admin.ModelAdmin):
    """A version is never changed: saving a definition under a name it has makes its next version."""

    form = DefinitionForm
    list_display = ("name", "version", "description", "tenant", "created_at")
    list_filter = ("name",)
    readonly_fields = ("steps_as_saved",)

    def get_fields(self, request, obj=None):
        return ("name", "version", "description", "steps_as_saved") if obj else ("name", "description", "spec")

    def get_readonly_fields(self, request, obj=None):
        return ("name", "version", "description", "steps_as_saved") if obj else ()

    def has_change_permission(self, request, obj=None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    @admin.display(description=_("Definition"))
    def steps_as_saved(self, obj) -> str:
        return pretty_json(obj.spec)

    def save_model(self, request, obj, form, change):
        saved = workflow_definition_save(
            tenant=tenant_ensure(), name=obj.name, spec=form.cleaned_data["spec"], description=obj.description
        )
        obj.pk, obj.version, obj.tenant_id = saved.pk, saved.version, saved.tenant_id


class StepInline(ReadOnlyInline):
    model = WorkflowStep
    fk_name = "run"
    fields = ("name", "kind", "state", "attempts", "started_at", "finished_at", "shown_output", "error")
    verbose_name_plural = _("Timeline")

    def get_queryset(self, request):
        return super().get_queryset(request).order_by("id")

    @admin.display(description=_("Status"))
    def state(self, obj) -> str:
        if obj.kind == "approval" and obj.status == WorkflowStep.Status.WAITING and not obj.output:
            url = reverse("admin:workflows_workflowrun_decide", args=[obj.run_id, obj.pk])
            return format_html(
                '{} · <a class="button" href="{}">{}</a>', obj.get_status_display(), url, gettext("Approve or reject")
            )
        waits = obj.not_before or obj.deadline
        if obj.status == "waiting" and waits:
            return gettext("%(status)s until %(time)s") % {
                "status": obj.get_status_display(),
                "time": date_format(timezone.localtime(waits), "d/m/Y H:i:s"),
            }
        return obj.get_status_display()

    @admin.display(description=_("Output"))
    def shown_output(self, obj) -> str:
        return pretty_json(obj.output) if obj.output is not None else "—"


@admin.register(WorkflowRun)
class WorkflowRunAdmin(admin.ModelAdmin):
    list_display = ("id", "definition", "status", "tenant", "created_at", "finished_at")
    list_filter = ("status", "definition__name")
    readonly_fields = ("definition", "status", "shown_input", "error", "trace_id", "created_at", "finished_at")
    fields = readonly_fields
    inlines = [StepInline]
    actions = ["cancel_runs"]

    def has_add_permission(self, request) -> bool:
        return False  # runs start from what happens (or over the API), not by hand

    @admin.display(description=_("Input"))
    def shown_input(self, obj) -> str:
        return pretty_json(obj.input)

    @admin.action(description=_("Cancel the selected runs"))
    def cancel_runs(self, request, queryset):
        cancelled = sum(workflow_run_cancel(run=run, reason=f"cancelled by {request.user}") for run in queryset)
        message = ngettext(
            "%(count)d run cancelled; the others had already ended.",
            "%(count)d runs cancelled; the others had already ended.",
            cancelled,
        )
        self.message_user(request, message % {"count": cancelled})

    def get_urls(self):
        return [
            path(
                "<int:run_id>/steps/<int:step_id>/decide/",
                self.admin_site.admin_view(self.decide_view),
                name="workflows_workflowrun_decide",
            ),
            *super().get_urls(),
        ]

    def decide_view(self, request, run_id: int, step_id: int):
        """An approval step: what the run knows so far, and approve or reject with a reason."""
        step = get_object_or_404(WorkflowStep.objects.select_related("run__definition"), pk=step_id, run_id=run_id)
        if not self.has_view_or_change_permission(request, step.run):
            raise PermissionDenied
        run_url = reverse("admin:workflows_workflowrun_change", args=[run_id])
        if request.method == "POST":
            if not self.has_change_permission(request, step.run):
                raise PermissionDenied
            decision = request.POST.get("decision")
            if decision not in ("approve", "reject"):
                self.message_user(request, gettext("Choose Approve or Reject."), messages.ERROR)
                return HttpResponseRedirect(request.path)
            decided = workflow_step_decide(
                step=step,
                approved=decision == "approve",
                reason=request.POST.get("reason", "").strip(),
                by=str(request.user),
            )
            if decided:
                text = gettext("%(step)s: approved.") if decision == "approve" else gettext("%(step)s: rejected.")
                self.message_user(request, text % {"step": step.name})
            else:
                text = gettext("%(step)s no longer waits for a decision.") % {"step": step.name}
                self.message_user(request, text, messages.WARNING)
            return HttpResponseRedirect(run_url)
        context = {
            **self.admin_site.each_context(request),
            "title": f"{step.run.definition}: {step.name}",
            "step": step,
            "run_url": run_url,
            "context_json": json.dumps(step.run.context, indent=2, ensure_ascii=False, default=str),
        }
        return TemplateResponse(request, "admin/workflows/decide.html", context)
