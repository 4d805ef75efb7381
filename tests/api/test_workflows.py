"""Workflows over the API: a definition refused with its errors, a run started, followed, sent an
event and cancelled; another company's runs are not there."""

from __future__ import annotations

import pytest

from agents.events import events_publish
from agents.workflows.definitions import workflow_definition_save
from agents.workflows.engine import workflow_advance, workflow_start
from bmc.events.models import DomainEvent
from bmc.workflows.models import WorkflowRun

pytestmark = pytest.mark.django_db

SPEC = {
    "start": "notify",
    "input": {"type": "object", "required": ["title"], "properties": {"title": {"type": "string"}}},
    "steps": {
        "notify": {"kind": "task", "task_type": "staff.notify", "input": {"title": "$input.title"}, "next": "paid"},
        "paid": {"kind": "wait_event", "event": "payment.received", "next": None},
    },
}


def test_a_definition_is_checked_and_versioned(api):
    bad = api.post(
        "/api/v1/workflows/definitions",
        {"name": "cobro", "spec": {"start": "x", "steps": {"a": {"kind": "delay", "next": None}}}},
        format="json",
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["fields"]["spec"] == [
        "start: 'x' is not one of the steps (a)",
        "steps.a: 'seconds' is a required property",
    ]
    first = api.post("/api/v1/workflows/definitions", {"name": "cobro", "spec": SPEC}, format="json")
    assert first.status_code == 201 and first.json()["version"] == 1
    changed = {**SPEC, "description": "con aviso"}
    assert (
        api.post("/api/v1/workflows/definitions", {"name": "cobro", "spec": changed}, format="json").json()["version"]
        == 2
    )
    (listed,) = api.get("/api/v1/workflows/definitions").json()
    assert (listed["name"], listed["version"]) == ("cobro", 2)


def test_a_run_is_started_followed_sent_an_event_and_ends(api, tenant):
    api.post("/api/v1/workflows/definitions", {"name": "cobro", "spec": SPEC}, format="json")
    refused = api.post("/api/v1/workflows/runs", {"workflow": "cobro", "input": {}}, format="json")
    assert refused.status_code == 400
    assert refused.json()["error"]["fields"]["input"] == ["input.(root): 'title' is a required property"]
    unknown = api.post("/api/v1/workflows/runs", {"workflow": "nada"}, format="json")
    assert unknown.json()["error"]["fields"]["workflow"] == ["workflow: no workflow named 'nada' in this company"]

    started = api.post("/api/v1/workflows/runs", {"workflow": "cobro", "input": {"title": "Cobrar"}}, format="json")
    assert started.status_code == 201 and started.json()["status"] == "running"
    run_id = started.json()["id"]
    workflow_advance(tenant_id=tenant.pk, run_id=run_id)
    detail = api.get(f"/api/v1/workflows/runs/{run_id}").json()
    assert (detail["workflow"], detail["version"], detail["status"]) == ("cobro", 1, "running")
    (notify,) = detail["steps"]
    assert (notify["name"], notify["kind"], notify["status"], notify["attempts"]) == ("notify", "task", "running", 1)
    assert notify["input"] == {"title": "Cobrar"} and notify["agent_task_id"]

    sent = api.post(
        f"/api/v1/workflows/runs/{run_id}/events", {"type": "payment.received", "data": {"amount": "10"}}, format="json"
    )
    assert sent.status_code == 202
    event = DomainEvent.objects.get(pk=sent.json()["event_id"])
    assert event.subject == f"workflow_run:{run_id}"
    bad_type = api.post(f"/api/v1/workflows/runs/{run_id}/events", {"type": "Pago!"}, format="json")
    assert bad_type.status_code == 400 and "type" in bad_type.json()["error"]["fields"]

    cancelled = api.post(f"/api/v1/workflows/runs/{run_id}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["steps"][0]["status"] == "cancelled"
    again = api.post(f"/api/v1/workflows/runs/{run_id}/cancel")
    assert again.status_code == 409 and "already ended: cancelled" in again.json()["error"]["message"]
    late = api.post(f"/api/v1/workflows/runs/{run_id}/events", {"type": "payment.received"}, format="json")
    assert late.status_code == 409
    assert events_publish(tenant_id=tenant.pk, event_id=event.pk)["runs"] == []


def test_another_companys_run_is_not_found(api, other_tenant):
    workflow_definition_save(tenant=other_tenant, name="cobro", spec=SPEC)
    theirs = workflow_start(tenant=other_tenant, name="cobro", input={"title": "x"})
    assert api.get(f"/api/v1/workflows/runs/{theirs.pk}").status_code == 404
    assert api.post(f"/api/v1/workflows/runs/{theirs.pk}/cancel").status_code == 404
    assert WorkflowRun.objects.get(pk=theirs.pk).status == "running"
    assert api.get("/api/v1/workflows/definitions").json() == []
