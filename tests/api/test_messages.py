"""POST /api/v1/messages, n8n's way in: what the contract requires, and how a bad body is told."""

from __future__ import annotations

import pytest

from bmc.conversations.models import InboundPayload, Message
from tests.conftest import queues_purge

pytestmark = pytest.mark.django_db

GOOD = {
    "channel": "n8n",
    "from": "+59899123456",
    "text": "hola",
    "external_id": "n8n-1",
    "sent_at": "2026-11-21T10:00:00-03:00",
}


@pytest.fixture(autouse=True)
def _empty_queues():
    yield
    queues_purge()


@pytest.mark.parametrize("missing", ["channel", "from", "external_id", "sent_at", "text"])
def test_each_field_of_the_contract_is_required_and_named(api, missing):
    response = api.post("/api/v1/messages", {k: v for k, v in GOOD.items() if k != missing}, format="json")
    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert list(fields) == [missing] and "is required" in fields[missing][0]
    assert not Message.objects.exists()
    payload = InboundPayload.objects.get()  # the raw body is kept, with why it was refused
    assert payload.outcome == "rejected" and missing in payload.error


def test_every_problem_is_told_at_once(api):
    response = api.post("/api/v1/messages", {"channel": "telegram", "text": 123, "external_id": ""}, format="json")
    fields = response.json()["error"]["fields"]
    assert set(fields) == {"channel", "from", "external_id", "sent_at", "text"}
    assert "'telegram' is not a channel; use one of" in fields["channel"][0]
    assert fields["text"] == ["must be a string (the message text), got int."]


def test_an_external_id_given_as_a_number_is_taken(api):
    response = api.post("/api/v1/messages", {**GOOD, "external_id": 4711}, format="json")
    assert response.status_code == 202
    assert api.post("/api/v1/messages", {**GOOD, "external_id": "4711"}, format="json").json()["duplicate"] is True


def test_the_chat_endpoints_name_a_missing_phone(api):
    response = api.post("/api/v1/chat/send", {"mensaje": "hola"}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        "telefono": ["is required: the customer's phone number, e.g. +59899123456."]
    }


def test_while_the_broker_is_down_a_message_is_stored_and_said_to_wait(api, tenant, broker_down):
    from datetime import timedelta

    from django.utils import timezone

    from bmc.jobs import records
    from bmc.jobs.models import AgentTask

    response = api.post("/api/v1/messages", GOOD, format="json")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["queued"] is False and "broker is unavailable" in body["detail"]
    task = AgentTask.objects.get(task_id=body["task_id"])
    assert task.status == "pending" and "broker unavailable" in task.error
    assert Message.objects.filter(pk=body["message_id"]).exists()
    # the next reaper run sends it, without waiting for the deadline of lost messages
    plan = records.tasks_reap(
        now=timezone.now(),
        held_by_workers=set(),
        waiting_in_broker=lambda queue: set(),
        queued_deadline=timedelta(minutes=10),
        running_grace=timedelta(minutes=2),
        max_dispatches=3,
    )
    assert plan.redispatch == [body["task_id"]]


def test_chat_process_does_not_wait_for_a_reply_the_broker_cannot_bring(api, tenant, broker_down):
    response = api.post("/api/v1/chat/process", {"mensaje": "hola", "telefono": "+59899123456"}, format="json")
    assert response.status_code == 202
    assert response.json()["status"] == "stored" and "broker is unavailable" in response.json()["detail"]
