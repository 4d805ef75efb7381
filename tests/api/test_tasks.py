from __future__ import annotations

import json
import uuid

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from bmc.core.models import ApiKey
from bmc.core.services import api_key_create
from bmc.jobs.models import AgentMessage, AgentTask
from bmc.jobs.registry import PUBLIC_TASK_TYPES, TASK_TYPES
from tests.conftest import queues_purge

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_queues():
    yield
    queues_purge()


def submit(api, django_capture_on_commit_callbacks, body):
    with django_capture_on_commit_callbacks(execute=True):
        return api.post("/api/v1/tasks", body, format="json")


def test_submit_records_the_task_and_queues_it(api, tenant, django_capture_on_commit_callbacks):
    response = submit(
        api,
        django_capture_on_commit_callbacks,
        {
            "task_type": "datasync.catalog_import",
            "payload": {"path": "catalog.csv"},
            "priority": "high",
            "metadata": {"source": "n8n"},
        },
    )
    assert response.status_code == 202, response.content
    body = response.json()
    # inside the test's transaction the dispatch runs after the response, in production before it
    assert body["agent_id"] == "datasync" and body["status"] in ("pending", "queued")
    task = AgentTask.objects.get(task_id=body["task_id"])
    assert (task.status, task.tenant, task.queue, task.priority, task.dispatches) == (
        "queued",
        tenant,
        "datasync",
        "high",
        1,
    )
    assert task.payload == {"path": "catalog.csv"} and task.metadata["source"] == "n8n"
    request = AgentMessage.objects.get(task=task)
    assert (request.type, request.from_agent, request.to_agent, request.intent) == (
        "request",
        "api",
        "datasync",
        "datasync.catalog_import",
    )
    assert request.trace_id == task.trace_id == response["X-Trace-Id"]


def test_task_detail_has_the_documented_shape(api, django_capture_on_commit_callbacks):
    task_id = submit(api, django_capture_on_commit_callbacks, {"task_type": "ping"}).json()["task_id"]
    body = api.get(f"/api/v1/tasks/{task_id}").json()
    assert {"task_id", "status", "result", "agent_id", "processing_time_ms", "timestamp"} <= set(body)
    assert body["agent_id"] == "orchestrator" and body["status"] == "queued" and body["result"] is None


def test_unknown_task_type_is_400_listing_the_public_ones(api):
    response = api.post("/api/v1/tasks", {"task_type": "make_coffee"}, format="json")
    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert "Unknown task_type 'make_coffee'" in message
    assert all(name in message for name in PUBLIC_TASK_TYPES)
    assert AgentTask.objects.count() == 0


@pytest.mark.parametrize("task_type", sorted(set(TASK_TYPES) - set(PUBLIC_TASK_TYPES)))
def test_the_agents_own_task_types_are_refused_over_the_api(api, task_type):
    """A turn, a send, a follow-up: they carry ids of the tenant's records, and only the agents
    submit them. Over the API they are 400, with the list of what may be submitted."""
    response = api.post(
        "/api/v1/tasks", {"task_type": task_type, "payload": {"conversation_id": 1, "message_id": 1}}, format="json"
    )
    assert response.status_code == 400, response.content
    message = response.json()["error"]["fields"]["task_type"][0]
    assert f"'{task_type}' is submitted by the agents themselves" in message
    assert all(name in message for name in PUBLIC_TASK_TYPES) and task_type not in message.split("Public")[1]
    assert AgentTask.objects.count() == 0


def test_bad_priority_and_capabilities_say_what_is_allowed(api):
    response = api.post("/api/v1/tasks", {"task_type": "ping", "priority": "urgent"}, format="json")
    assert response.status_code == 400
    assert "low, normal, high, critical" in response.json()["error"]["fields"]["priority"][0]
    response = api.post("/api/v1/tasks", {"task_type": "ping", "required_capabilities": ["teleport"]}, format="json")
    assert response.status_code == 400 and "Known capabilities" in response.json()["error"]["message"]


@pytest.mark.parametrize("header", [None, "Bearer nope.nope", "Token abc", "Bearer "])
def test_missing_or_wrong_key_is_401(tenant, header):
    client = APIClient()
    if header is not None:
        client.credentials(HTTP_AUTHORIZATION=header)
    response = client.post("/api/v1/tasks", {"task_type": "ping"}, format="json")
    assert response.status_code == 401
    assert response.json()["error"]["message"]
    assert client.get("/api/v1/orchestrator/agents").status_code == 401


def test_revoked_key_is_401(tenant):
    api_key, key = api_key_create(tenant=tenant, name="old")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert client.get("/api/v1/tasks/" + str(uuid.uuid4())).status_code == 404
    api_key.revoked = True
    api_key.save()
    assert client.get("/api/v1/tasks/" + str(uuid.uuid4())).status_code == 401


def test_another_tenants_task_is_404(api, other_tenant, django_capture_on_commit_callbacks):
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_create(tenant=other_tenant, name='x')[1]}")
    task_id = submit(other, django_capture_on_commit_callbacks, {"task_type": "ping"}).json()["task_id"]
    assert other.get(f"/api/v1/tasks/{task_id}").status_code == 200
    assert api.get(f"/api/v1/tasks/{task_id}").status_code == 404
    assert api.post(f"/api/v1/tasks/{task_id}/cancel").status_code == 404
    assert AgentTask.objects.get(task_id=task_id).status == "queued"


def test_body_over_256_kb_is_413(api):
    body = json.dumps({"task_type": "ping", "payload": {"blob": "x" * (256 * 1024)}})
    response = api.generic("POST", "/api/v1/tasks", body, content_type="application/json")
    assert response.status_code == 413
    assert "256 KB" in response.json()["error"]["message"]


def test_malformed_json_is_400_saying_where(api):
    response = api.generic("POST", "/api/v1/tasks", '{"task_type": "ping",, }', content_type="application/json")
    assert response.status_code == 400
    assert "line 1 column 22" in response.json()["error"]["message"]


def test_cancel_a_queued_task_then_cancel_again_is_409(api, django_capture_on_commit_callbacks):
    task_id = submit(api, django_capture_on_commit_callbacks, {"task_type": "analytics.task_stats"}).json()["task_id"]
    response = api.post(f"/api/v1/tasks/{task_id}/cancel")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    again = api.post(f"/api/v1/tasks/{task_id}/cancel")
    assert again.status_code == 409 and "already cancelled" in again.json()["error"]["message"]


def test_create_api_key_prints_the_key_last_and_stores_only_a_hash(tenant, capsys):
    call_command("create_api_key", "--tenant", "bmc", "--name", "n8n")
    key = capsys.readouterr().out.strip().splitlines()[-1]
    stored = ApiKey.objects.get(name="n8n")
    assert stored.tenant == tenant and key.startswith(stored.prefix + ".")
    assert key not in stored.hashed_key and key.split(".")[1] not in stored.id
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert client.get("/api/v1/orchestrator/agents").status_code == 200


def test_create_api_key_for_an_unknown_tenant_names_the_known_ones(tenant):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="Unknown tenant 'acme'. Tenants: bmc"):
        call_command("create_api_key", "--tenant", "acme", "--name", "x")


def test_create_tenant_makes_a_company_that_quotes_from_its_own_catalog(tenant, capsys):
    from bmc.core.models import Tenant
    from bmc.quotes.models import CatalogVersion
    from bmc.sales.models import FollowUpPolicy

    call_command("create_tenant", "acme", "ACME Uruguay SA", "--tier", "pro", "--demo-catalog")
    assert "tenant acme (ACME Uruguay SA, pro) created: catalog v1 (35 products)" in capsys.readouterr().out
    acme = Tenant.objects.get(slug="acme")
    assert CatalogVersion.objects.get(tenant=acme, is_current=True).product_count == 35
    assert FollowUpPolicy.objects.filter(tenant=acme).exists()
    call_command("create_api_key", "--tenant", "acme", "--name", "n8n")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {capsys.readouterr().out.strip().splitlines()[-1]}")
    quote = client.post(
        "/api/v1/quotes/calculate",
        {"family": "ISODEC_EPS", "thickness_mm": 100, "length_m": 6, "width_m": 4.48, "zone": "MONTEVIDEO"},
        format="json",
    )
    assert quote.status_code == 200 and quote.json()["total"] == "1816.95"


@pytest.mark.parametrize(
    "args, says",
    [
        (["bmc", "Again"], "a tenant 'bmc' already exists"),
        (["Not A Slug", "X"], "slug 'Not A Slug' is not allowed"),
        (["acme", "  "], "name is required"),
        (["acme", "ACME", "--catalog", "/nonexistent.csv"], "cannot read the catalog /nonexistent.csv"),
    ],
)
def test_create_tenant_refuses_what_it_cannot_make_saying_why(tenant, args, says):
    from django.core.management.base import CommandError

    from bmc.core.models import Tenant

    with pytest.raises(CommandError, match=says):
        call_command("create_tenant", *args)
    assert list(Tenant.objects.values_list("slug", flat=True)) == ["bmc"]


def test_openapi_schema_and_docs_are_served(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    assert {"/api/v1/tasks", "/api/v1/tasks/{task_id}", "/api/v1/orchestrator/queues", "/health/detailed"} <= set(
        schema["paths"]
    )
    assert client.get("/api/docs/").status_code == 200


def test_health_needs_no_key(client):
    assert client.get("/health").json()["status"] == "ok"


def test_agents_lists_the_registry(api):
    agents = {a["id"]: a for a in api.get("/api/v1/orchestrator/agents").json()}
    assert set(agents) == {
        "orchestrator",
        "conversation",
        "quote",
        "outbound",
        "followup",
        "dunning",
        "datasync",
        "analytics",
        "documents",
        "order",
        "inventory",
        "payment",
        "catalog",
    }
    assert "pricing" in agents["quote"]["capabilities"] and agents["quote"]["queue"] == "quote"
    assert api.get("/api/v1/orchestrator/agents/nobody/health").status_code == 404


def test_queue_depth_is_read_from_the_broker(api, django_capture_on_commit_callbacks):
    queues_purge(("analytics",))
    for _ in range(3):
        submit(api, django_capture_on_commit_callbacks, {"task_type": "analytics.ping", "priority": "low"})
    submit(api, django_capture_on_commit_callbacks, {"task_type": "analytics.ping", "priority": "critical"})
    depths = {q["name"]: q["depth"] for q in api.get("/api/v1/orchestrator/queues").json()}
    assert depths["analytics"] == 4  # every priority step counted
    status = api.get("/api/v1/orchestrator/status").json()
    assert status["queues"]["analytics"] == 4 and status["tasks"]["queued"] == 4


def test_agent_health_reports_its_last_hour(api, tenant):
    from bmc.jobs.models import AgentTask

    AgentTask.objects.create(
        tenant=tenant,
        task_type="quote.ping",
        agent="quote",
        queue="quote",
        status="completed",
        processing_time_ms=40,
        trace_id="t",
        finished_at="2026-01-01T00:00:00Z",
    )
    body = api.get("/api/v1/orchestrator/agents/quote/health").json()
    assert body["id"] == "quote" and body["last_hour"]["by_status"] == {"completed": 1}
    assert body["last_hour"]["avg_processing_ms"] == 40.0 and body["queue_depth"] is not None
    assert body["status"] == "down" and body["workers"] == []  # no worker runs in this test


@pytest.mark.parametrize(
    "body, field, says",
    [
        ({"task_type": "ping", "metadata": {"intent": ["quote_request"]}}, "metadata", "must be a string"),
        ({"task_type": "ping", "metadata": {"timeout_ms": "soon"}}, "metadata", "from 1 to 86400000"),
        ({"task_type": "ping", "metadata": {"timeout_ms": 2**40}}, "metadata", "from 1 to 86400000"),
        ({"task_type": "ping", "payload": {"text": "a\u0000b"}}, "payload.text", "NUL character"),
        ({"task_type": "ping", "payload": ["not", "an", "object"]}, "payload", "dictionary"),
    ],
)
def test_bad_fields_are_400_naming_the_field(api, body, field, says):
    response = api.post("/api/v1/tasks", body, format="json")
    assert response.status_code == 400, response.content
    assert says in " ".join(response.json()["error"]["fields"][field])
    assert AgentTask.objects.count() == 0


def test_errors_carry_a_code_and_unknown_api_paths_answer_json(api):
    assert APIClient().get("/api/v1/orchestrator/agents").json()["error"]["code"] == "not_authenticated"
    missing = api.get(f"/api/v1/tasks/{uuid.uuid4()}")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    malformed_id = api.get("/api/v1/tasks/not-a-uuid")
    assert malformed_id.status_code == 404 and malformed_id.json()["error"]["code"] == "not_found"
    assert api.delete("/api/v1/tasks").json()["error"]["code"] == "method_not_allowed"


@pytest.mark.parametrize("sent_at", ["99999999999999", "2026-02-30T10:00:00", "mañana"])
def test_a_bad_sent_at_is_400_naming_it(api, sent_at):
    response = api.post(
        "/api/v1/messages",
        {"channel": "n8n", "from": "+59899123456", "text": "hola", "external_id": "n8n-7", "sent_at": sent_at},
        format="json",
    )
    assert response.status_code == 400 and "sent_at" in response.json()["error"]["fields"]


def test_a_task_the_broker_cannot_take_is_503_with_retry_after_and_never_runs(api, broker_down):
    response = api.post("/api/v1/tasks", {"task_type": "analytics.ping"}, format="json")
    assert response.status_code == 503, response.content
    assert response["Retry-After"] == "30"
    error = response.json()["error"]
    assert error["code"] == "broker_unavailable" and "send it again in 30 seconds" in error["message"]
    task = AgentTask.objects.get()
    assert task.status == "cancelled" and "broker was unavailable" in task.error  # no reaper sends it later
