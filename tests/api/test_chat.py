"""The chat endpoints n8n flows use: send, status, cancel, and process (waits for the reply)."""

from __future__ import annotations

import pytest

from bmc.conversations.models import InboundPayload, Message
from bmc.jobs.models import AgentTask
from tests.conftest import queues_purge

pytestmark = pytest.mark.django_db

BODY = {"mensaje": "hola, cuanto sale isodec 100 para un techo de 6 x 4,48", "telefono": "+59899123456"}


@pytest.fixture(autouse=True)
def _empty_queues():
    yield
    queues_purge()


def test_send_then_status_then_cancel(api, tenant):
    sent = api.post("/api/v1/chat/send", BODY, format="json")
    assert sent.status_code == 202
    task_id = sent.json()["task_id"]
    status = api.post("/api/v1/chat/status", {"task_id": task_id}, format="json").json()
    assert status["task_id"] == task_id and status["respuesta"] is None
    assert api.post(f"/api/v1/chat/{task_id}/cancel").json() == {"task_id": task_id, "status": "cancelled"}
    again = api.post(f"/api/v1/chat/{task_id}/cancel")
    assert again.status_code == 409 and "already cancelled" in again.json()["error"]["message"]
    assert AgentTask.objects.get(task_id=task_id).status == "cancelled"


def test_a_cancelled_message_is_not_answered_later_by_a_sweep_or_the_next_turn(api, tenant):
    from datetime import timedelta

    from django.utils import timezone

    from agents.conversations.recovery import messages_stranded
    from agents.conversations.turn import conversation_turn

    sent = api.post("/api/v1/chat/send", BODY, format="json").json()
    api.post(f"/api/v1/chat/{sent['task_id']}/cancel")
    message = Message.objects.get(pk=sent["message_id"])
    assert message.delivery_status == "cancelled" and message.processed_at is not None
    turns, _ = messages_stranded(now=timezone.now() + timedelta(hours=1), older_than=timedelta(minutes=2))
    assert turns == []  # the reaper finds nothing left to answer
    later = api.post("/api/v1/chat/send", {**BODY, "mensaje": "hola"}, format="json").json()
    result = conversation_turn(
        tenant_id=tenant.pk, conversation_id=later["conversation_id"], public_base_url="http://x"
    )
    assert result.answered == [later["message_id"]] and result.quotes == []  # only the new one
    status = api.post("/api/v1/chat/status", {"task_id": sent["task_id"]}, format="json").json()
    assert status["status"] == "cancelled" and status["respuesta"] is None


def test_status_names_a_bad_task_id(api, tenant):
    response = api.post("/api/v1/chat/status", {"task_id": "nope"}, format="json")
    assert response.status_code == 400 and "task_id" in response.json()["error"]["fields"]


def test_process_answers_202_when_the_reply_is_not_there_in_time(api, tenant, settings):
    settings.CHAT_PROCESS_WAIT = 0.2  # no worker runs in this test
    response = api.post("/api/v1/chat/process", BODY, format="json")
    assert response.status_code == 202
    assert response.json()["status"] == "processing" and response.json()["task_id"]


def test_process_answers_with_the_reply_once_it_is_stored(api, tenant, settings):
    settings.CHAT_PROCESS_WAIT = 0.2
    first = api.post("/api/v1/chat/send", {**BODY, "id": "same"}, format="json").json()
    message = Message.objects.get(pk=first["message_id"])
    # a follow-up that went out meanwhile is not the answer to this message
    Message.objects.create(
        tenant=tenant, conversation=message.conversation, direction="out", channel="log", text="¿Pudiste ver...?"
    )
    again = api.post("/api/v1/chat/process", {**BODY, "id": "same"}, format="json")
    assert again.status_code == 202 and again.json()["respuesta"] is None
    Message.objects.create(
        tenant=tenant,
        conversation=message.conversation,
        direction="out",
        channel="log",
        text="¡Hola!",
        raw_payload={"answers": [message.pk, message.pk]},  # as a turn records what it answers
    )
    # the same message id again: nothing new is stored, the stored reply is the answer
    again = api.post("/api/v1/chat/process", {**BODY, "id": "same"}, format="json")
    assert again.status_code == 200 and again.json()["respuesta"] == "¡Hola!"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"mensaje": "hola", "telefono": "abc"}, "telefono"),
        ({"mensaje": "", "telefono": "+59899123456"}, "mensaje"),
        ({"mensaje": "hola", "telefono": "+59899123456", "fecha": "ayer"}, "fecha"),
    ],
)
def test_bad_fields_are_named_as_the_caller_sent_them(api, tenant, body, field):
    response = api.post("/api/v1/chat/process", body, format="json")
    assert response.status_code == 400 and field in response.json()["error"]["fields"]
    assert InboundPayload.objects.get().outcome == "rejected"
