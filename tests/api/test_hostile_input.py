"""Input built to break the server: answered 400 naming what is wrong, never 500, and the raw
body of an inbound message still kept."""

from __future__ import annotations

import json

import pytest

from bmc.conversations.models import InboundPayload, Message
from bmc.jobs.models import AgentTask
from tests.api.test_messages import GOOD
from tests.conftest import queues_purge

pytestmark = pytest.mark.django_db

MESSAGE = GOOD  # the /messages body the contract requires


@pytest.fixture(autouse=True)
def _empty_queues():
    yield
    queues_purge()


def post_raw(api, path: str, body: str | bytes):
    return api.generic("POST", path, body, content_type="application/json")


def test_json_nested_hundreds_deep_is_refused_before_it_is_parsed(api):
    deep = '{"a":' * 450 + "1" + "}" * 450
    response = post_raw(api, "/api/v1/tasks", f'{{"task_type": "ping", "metadata": {deep}}}')
    assert response.status_code == 400, response.content
    assert "nested deeper than 32 levels" in response.json()["error"]["message"]
    assert AgentTask.objects.count() == 0


def test_a_hundred_thousand_brackets_are_a_400_and_the_raw_body_is_kept(api):
    response = post_raw(api, "/api/v1/messages", "[" * 100_000)
    assert response.status_code == 400, response.content
    assert "nested deeper than 32 levels" in response.json()["error"]["fields"]["body"][0]
    payload = InboundPayload.objects.get()
    assert payload.outcome == "rejected" and len(payload.body) == 100_000


def test_brackets_inside_strings_are_text_not_nesting(api):
    response = post_raw(api, "/api/v1/messages", json.dumps({**MESSAGE, "text": "[[[[" * 50 + " hola {{{{" * 20}))
    assert response.status_code == 202, response.content


@pytest.mark.parametrize("field", ["text", "external_id", "name", "from"])
@pytest.mark.parametrize("bad, says", [("\\u0000", "NUL character"), ("\\ud800", "lone UTF-16 surrogate (\\ud800)")])
def test_text_that_is_not_text_is_refused_in_every_field_naming_it(api, field, bad, says):
    body = json.dumps({**MESSAGE, "name": "Juan"}).replace(f'"{field}": "', f'"{field}": "x{bad}', 1)
    response = post_raw(api, "/api/v1/messages", body)
    assert response.status_code == 400, response.content
    fields = response.json()["error"]["fields"]
    assert list(fields) == [field] and says in fields[field][0]
    assert not Message.objects.exists()
    payload = InboundPayload.objects.get()  # kept as it came, with why it was refused
    assert payload.outcome == "rejected" and field in payload.error and bad in payload.body


def test_a_bad_key_deep_in_a_task_is_named_by_its_path(api):
    response = post_raw(
        api, "/api/v1/tasks", '{"task_type": "ping", "metadata": {"notes": [{"a": "ok"}, {"b\\ud83d": 1}]}}'
    )
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["metadata.notes[1].'b\\ud83d'"]


def test_a_body_that_is_not_utf8_says_so(api):
    response = post_raw(api, "/api/v1/tasks", b'{"task_type": "\xff\xfe"}')
    assert response.status_code == 400 and "not UTF-8" in response.json()["error"]["message"]


def test_a_raw_nul_byte_in_a_message_body_is_kept_and_refused(api):
    response = post_raw(api, "/api/v1/messages", b'{"channel": "n8n", "text": "a\x00b"}')
    assert response.status_code == 400
    assert InboundPayload.objects.get().body == '{"channel": "n8n", "text": "a\ufffdb"}'


def test_a_nul_in_a_query_parameter_is_400_naming_it(api):
    response = api.get("/api/v1/staff-tasks?status=open%00")
    assert response.status_code == 400, response.content
    assert "NUL character" in response.json()["error"]["fields"]["status"][0]


def test_a_trace_id_that_is_not_one_is_replaced(api):
    response = api.get("/api/v1/orchestrator/agents", HTTP_X_TRACE_ID="bad id\u00e9<script>")
    assert response.status_code == 200 and len(response["X-Trace-Id"]) == 32
    kept = api.get("/api/v1/orchestrator/agents", HTTP_X_TRACE_ID="n8n-run-42")
    assert kept["X-Trace-Id"] == "n8n-run-42"


@pytest.mark.parametrize(
    "since", ["2461-08-13T20:53:41-17:23", "9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"]
)
def test_any_rfc3339_moment_is_taken_or_refused_never_a_500(api, since):
    """Offsets beyond what PostgreSQL reads, and moments beyond the calendar's ends."""
    from urllib.parse import quote

    response = api.get(f"/api/v1/analytics/followups?since={quote(since)}")
    assert response.status_code in (200, 400), response.content
