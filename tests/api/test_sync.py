"""POST /api/v1/sync/{source}/run and GET /api/v1/sync/runs/{id}: what is not configured is named,
one run of a source at a time."""

from __future__ import annotations

import pytest

from bmc.datasync.models import SyncRun
from bmc.jobs.models import AgentTask

pytestmark = pytest.mark.django_db


def test_a_source_not_configured_or_unknown_is_a_400_naming_what_is_missing(api):
    response = api.post("/api/v1/sync/sheets/run")
    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert "GOOGLE_SHEETS_CREDENTIALS" in message and "SHEETS_PRICE_LIST_ID or SHEETS_CRM_ID" in message

    response = api.post("/api/v1/sync/excel/run")
    assert response.status_code == 400
    assert "one of sheets, mercadolibre, shopify" in response.json()["error"]["message"]
    assert not SyncRun.objects.exists()


def test_a_run_is_queued_once_and_read_by_its_id(api, settings, tenant, other_tenant):
    settings.GOOGLE_SHEETS_CREDENTIALS = "{}"
    settings.SHEETS_CRM_ID = "crm"
    response = api.post("/api/v1/sync/sheets/run")
    assert response.status_code == 202
    run = response.json()
    assert (run["source"], run["status"], run["trigger"], run["read"]) == ("sheets", "queued", "api", 0)
    task = AgentTask.objects.get(task_type="datasync.sync_run")
    assert task.payload == {"run_id": run["id"]} and task.queue == "datasync"

    again = api.post("/api/v1/sync/sheets/run")  # one run of a source at a time
    assert again.status_code == 409 and again.json()["error"]["run_id"] == run["id"]
    assert SyncRun.objects.count() == 1

    assert api.get(f"/api/v1/sync/runs/{run['id']}").json()["status"] == "queued"
    theirs = SyncRun.objects.create(tenant=other_tenant, source="sheets")
    assert api.get(f"/api/v1/sync/runs/{theirs.pk}").status_code == 404


def test_another_company_cannot_run_the_default_companys_sources(settings, other_tenant):
    from rest_framework.test import APIClient

    from bmc.core.services import api_key_create

    settings.GOOGLE_SHEETS_CREDENTIALS = "{}"
    settings.SHEETS_CRM_ID = "crm"
    theirs = APIClient()
    theirs.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_create(tenant=other_tenant, name='x')[1]}")
    response = theirs.post("/api/v1/sync/sheets/run")
    assert (
        response.status_code == 400 and "configured for the company 'bmc' only" in response.json()["error"]["message"]
    )
    assert not SyncRun.objects.exists()
