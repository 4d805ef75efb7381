"""Workflows in the admin: a definition refused with its errors, a run's timeline, and a sales
person approving the step that waits for them."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse

from agents.tenants import system_bootstrap
from agents.workflows.definitions import workflow_definition_save
from agents.workflows.engine import workflow_advance, workflow_start
from bmc.sales.models import StaffTask
from bmc.workflows.models import WorkflowDefinition, WorkflowStep

pytestmark = pytest.mark.django_db

SPEC = {
    "start": "approve",
    "steps": {
        "approve": {"kind": "approval", "title": "$input.title", "next": "notify", "on_reject": None},
        "notify": {"kind": "task", "task_type": "staff.notify", "input": {"title": "aprobado"}, "next": None},
    },
}


def test_a_definition_saved_in_the_admin_is_checked_and_versioned(admin_client, tenant):
    url = reverse("admin:workflows_workflowdefinition_add")
    broken = {**SPEC, "steps": {**SPEC["steps"], "notify": {"kind": "task", "task_type": "x.y", "next": "z"}}}
    page = admin_client.post(url, {"name": "compra", "description": "", "spec": json.dumps(broken)})
    assert page.status_code == 200  # the form again, with the errors
    assert "steps.notify.task_type: &#x27;x.y&#x27; is not a task type an agent takes" in page.content.decode()
    assert "steps.notify.next: &#x27;z&#x27; is not one of the steps" in page.content.decode()
    assert not WorkflowDefinition.objects.exists()
    for description in ("primera", "segunda"):
        spec = {**SPEC, "description": description}
        assert (
            admin_client.post(url, {"name": "compra", "description": "", "spec": json.dumps(spec)}).status_code == 302
        )
    assert list(WorkflowDefinition.objects.values_list("version", "description")) == [(2, "segunda"), (1, "primera")]


def test_a_sales_person_approves_a_waiting_step_from_the_runs_timeline(client, tenant):
    system_bootstrap()
    workflow_definition_save(tenant=tenant, name="compra", spec=SPEC)
    run = workflow_start(tenant=tenant, name="compra", input={"title": "Comprar 40 paneles"})
    workflow_advance(tenant_id=tenant.pk, run_id=run.pk)
    step = WorkflowStep.objects.get(name="approve")
    seller = User.objects.create_user("vendedora", password="x", is_staff=True)
    seller.groups.add(Group.objects.get(name="sales"))
    client.force_login(seller)

    timeline = client.get(reverse("admin:workflows_workflowrun_change", args=[run.pk])).content.decode()
    decide = reverse("admin:workflows_workflowrun_decide", args=[run.pk, step.pk])
    assert "Aprobá o rechazá" in timeline and decide in timeline
    page = client.get(decide).content.decode()
    assert "Comprar 40 paneles" in page and 'value="approve"' in page
    assert StaffTask.objects.get(kind="approval").status == "open"

    answer = client.post(decide, {"decision": "approve", "reason": "hay stock"})
    assert answer.status_code == 302
    step.refresh_from_db()
    assert step.output == {"approved": True, "reason": "hay stock", "by": "vendedora"}
    assert StaffTask.objects.get(kind="approval").status == "done"
    workflow_advance(tenant_id=tenant.pk, run_id=run.pk)
    assert WorkflowStep.objects.get(name="notify").status == "running"
    again = client.post(decide, {"decision": "reject"}, follow=True).content.decode()
    assert "ya no espera una decisión" in again

    ops_only = User.objects.create_user("mirona", password="x", is_staff=True)
    client.force_login(ops_only)  # no group: no permission to decide
    assert client.post(decide, {"decision": "reject"}).status_code == 403
