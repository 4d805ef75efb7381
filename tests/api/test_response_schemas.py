"""Real answers, about real records (a customer's quote, a batch of documents read, staff tasks,
invoices), checked against the OpenAPI schema the API publishes: the schemathesis run mostly meets
empty tables, this one does not."""

from __future__ import annotations

import random
from datetime import date
from pathlib import Path

import pytest
import schemathesis
import yaml
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.utils import timezone

from agents.conversations.turn import conversation_turn
from agents.tenants import system_bootstrap
from agents.workflows.definitions import workflow_definition_save
from agents.workflows.engine import workflow_advance, workflow_start
from bmc.core.services import api_key_create
from bmc.jobs.records import agent_task_fail
from bmc.jobs.submit import task_submit
from tests import documents_corpus as corpus
from tests.agents.documents.test_documents import run
from tests.agents.sales.test_followup import REQUEST, write
from tests.api.test_workflows import SPEC as WORKFLOW

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema():
    # as Django's test client does: the request must not close the test's own connection
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())
    finally:
        for signal in (request_started, request_finished):
            signal.connect(close_old_connections)


def test_answers_about_real_records_match_the_schema(schema, tenant, django_capture_on_commit_callbacks):
    system_bootstrap()
    key = api_key_create(tenant=tenant, name="schema")[1]
    message = write("+59899123456", REQUEST, timezone.now(), tenant)
    turn = conversation_turn(tenant_id=tenant.pk, conversation_id=message.conversation_id, public_base_url="http://x")
    write("+59899123456", "quiero hablar con un vendedor", timezone.now(), tenant)
    conversation_turn(tenant_id=tenant.pk, conversation_id=message.conversation_id, public_base_url="http://x")
    batch, _, read = run(tenant, [corpus.invoice(random.Random(4), 40, issued=date(2026, 11, 10), broken_total=True)])
    (document,) = read.values()
    workflow_definition_save(tenant=tenant, name="notify", spec=WORKFLOW)
    run_id = workflow_start(tenant=tenant, name="notify", input={"title": "x"}).pk
    workflow_advance(tenant_id=tenant.pk, run_id=run_id)  # a step with its agent task
    dead = [task_submit(tenant=tenant, task_type="analytics.task_stats") for _ in range(2)]
    for task in dead:
        agent_task_fail(task_id=str(task.task_id), error="dead after 3 dispatches", status="dead")
    calls = [
        ("/api/v1/conversations/{conversation_id}", "GET", {"conversation_id": message.conversation_id}, None),
        ("/api/v1/quotes/{quote_id}", "GET", {"quote_id": turn.quotes[0]}, None),
        ("/api/v1/documents/batches/{batch_id}", "GET", {"batch_id": batch.pk}, None),
        (
            "/api/v1/documents/{document_id}/review",
            "POST",
            {"document_id": document.pk},
            {"action": "correct", "fields": {"total": "1.00"}},
        ),
        ("/api/v1/staff-tasks", "GET", {}, None),
        ("/api/v1/events", "GET", {}, None),  # the review above is one
        ("/api/v1/orders", "POST", {}, {"quote_id": turn.quotes[0]}),
        ("/api/v1/orders", "GET", {}, None),
        ("/api/v1/conversations/{conversation_id}", "GET", {"conversation_id": message.conversation_id}, None),
        ("/api/v1/workflows/definitions", "POST", {}, {"name": "cobro", "spec": WORKFLOW}),
        ("/api/v1/workflows/definitions", "GET", {}, None),
        ("/api/v1/workflows/runs", "POST", {}, {"workflow": "cobro", "input": {"title": "Cobrar"}}),
        ("/api/v1/workflows/runs/{run_id}", "GET", {"run_id": run_id}, None),
        ("/api/v1/workflows/runs/{run_id}/events", "POST", {"run_id": run_id}, {"type": "payment.received"}),
        ("/api/v1/workflows/runs/{run_id}/cancel", "POST", {"run_id": run_id}, None),
        ("/api/v1/followups/policy", "GET", {}, None),
        ("/api/v1/orchestrator/status", "GET", {}, None),
        ("/api/v1/analytics/followups", "GET", {}, None),
        (
            "/api/v1/invoices",
            "POST",
            {},
            [
                {
                    "number": "F-1",
                    "customer_phone": "+59899123456",
                    "amount": "2500.00",
                    "currency": "USD",
                    "issue_date": "2026-10-01",
                    "due_date": "2026-11-01",
                }
            ],
        ),
        ("/api/v1/invoices", "GET", {}, None),
        ("/api/v1/chat/process", "POST", {}, {"mensaje": "gracias!", "telefono": "+59899123456"}),
        ("/api/v1/tasks/{task_id}/retry", "POST", {"task_id": str(dead[0].task_id)}, None),
        ("/api/v1/tasks/retry", "POST", {}, {"status": ["dead"], "agent": "analytics", "limit": 10}),
    ]
    for path, method, path_parameters, body in calls:
        operation = schema[path][method]
        extra = {"body": body, "media_type": "application/json"} if body is not None else {}
        case = operation.Case(path_parameters=path_parameters, headers={"Authorization": f"Bearer {key}"}, **extra)
        with django_capture_on_commit_callbacks(execute=False):
            response = case.call()
        assert response.status_code in (200, 201, 202), (path, response.status_code, response.content[:500])
        operation.validate_response(response)  # raises, saying what breaks the schema


def test_the_published_schema_is_the_committed_one(tmp_path):
    """The API's contract changes only on purpose: tests/data/openapi.yaml is the schema as
    published, and a change to it is a change to the API (regenerate it with
    `manage.py spectacular --lang en --file tests/data/openapi.yaml` and say why in the commit)."""
    from django.core.management import call_command

    generated = tmp_path / "openapi.yaml"
    # in English, as the API serves it (/api/ answers in English; a command runs in LANGUAGE_CODE)
    call_command("spectacular", "--lang", "en", "--file", str(generated))
    committed = (Path(__file__).resolve().parents[1] / "data" / "openapi.yaml").read_text()
    assert _db_bounds_left_out(yaml.safe_load(generated.read_text())) == _db_bounds_left_out(yaml.safe_load(committed))


# The bounds Django gives integer model fields come from the database backend (SQLite: 64-bit for
# every one; PostgreSQL: 32-bit for IntegerField): the same API, generated on either.
DB_INTEGER_BOUNDS = {-(2**63), 2**63 - 1, -(2**31), 2**31 - 1, -(2**15), 2**15 - 1}


def _db_bounds_left_out(node):
    if isinstance(node, dict):
        return {
            key: _db_bounds_left_out(value)
            for key, value in node.items()
            if not (key in ("maximum", "minimum") and value in DB_INTEGER_BOUNDS)
            and not (key == "format" and value in ("int32", "int64"))
        }
    if isinstance(node, list):
        return [_db_bounds_left_out(value) for value in node]
    return node
