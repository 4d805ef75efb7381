"""Conversations and quotes listed for n8n: filtered by state, customer, since and assignee, a page
at a time with a cursor that neither repeats nor skips what arrives meanwhile."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from agents.tenants import system_bootstrap
from bmc.conversations.models import Conversation, Customer, Message
from tests.agents.conversations.dialogue import say
from tests.agents.orders.test_orders import REQUEST

pytestmark = pytest.mark.django_db


def _conversation(tenant, phone: str, **fields) -> Conversation:
    customer = Customer.objects.create(tenant=tenant, phone=phone, name=f"Cliente {phone[-3:]}")
    return Conversation.objects.create(tenant=tenant, customer=customer, **fields)


def _said(conversation: Conversation, direction: str, text: str, *, at=None) -> Message:
    message = Message.objects.create(
        tenant=conversation.tenant, conversation=conversation, direction=direction, channel="whatsapp", text=text
    )
    Conversation.objects.filter(pk=conversation.pk).update(last_message_at=at or timezone.now())
    return message


def _ids(answer) -> list[int]:
    assert answer.status_code == 200, answer.content
    return [row["id"] for row in answer.json()["results"]]


def test_conversations_are_filtered_and_say_who_owes_an_answer(api, tenant, other_tenant):
    seller = get_user_model().objects.create_user("lucia", password="x", is_staff=True)
    waiting = _conversation(tenant, "+59899000001", state=Conversation.State.HANDOFF, assigned_to=seller)
    _said(waiting, "out", "Hola, ¿en qué te ayudo?")
    _said(waiting, "in", "¿Tienen isodec de 100?")
    answered = _conversation(tenant, "+59899000002", state=Conversation.State.HANDOFF, assigned_to=seller)
    _said(answered, "in", "hola")
    _said(answered, "out", "Sí, tenemos.")
    old = _conversation(tenant, "+59899000003")
    _said(old, "in", "precio?", at=timezone.now() - timedelta(days=10))
    _conversation(other_tenant, "+59899000004")

    everything = api.get("/api/v1/conversations").json()["results"]
    assert [row["id"] for row in everything] == [old.pk, answered.pk, waiting.pk]
    first = everything[-1]
    assert first["needs_reply"] is True and first["assigned_to"] == "lucia"
    assert first["last_message"]["text"] == "¿Tienen isodec de 100?" and first["last_message"]["direction"] == "in"
    assert first["customer"]["phone"] == "+59899000001"

    assert _ids(api.get("/api/v1/conversations", {"needs_reply": "true"})) == [waiting.pk]
    assert _ids(api.get("/api/v1/conversations", {"state": "handoff"})) == [answered.pk, waiting.pk]
    assert _ids(api.get("/api/v1/conversations", {"assigned": "lucia"})) == [answered.pk, waiting.pk]
    assert _ids(api.get("/api/v1/conversations", {"assigned": "none"})) == [old.pk]
    assert _ids(api.get("/api/v1/conversations", {"customer": old.customer_id})) == [old.pk]
    since = (timezone.now() - timedelta(days=1)).isoformat()
    assert _ids(api.get("/api/v1/conversations", {"since": since})) == [answered.pk, waiting.pk]

    assert api.get("/api/v1/conversations", {"since": ""}).status_code == 400
    wrong = api.get("/api/v1/conversations", {"state": "lost", "since": "ayer"})
    assert wrong.status_code == 400
    assert set(wrong.json()["error"]["fields"]) == {"state", "since"}


def test_the_cursor_walks_every_conversation_once_while_new_ones_arrive(api, tenant):
    made = [_conversation(tenant, f"+598990001{n:02d}").pk for n in range(7)]
    seen, page = [], api.get("/api/v1/conversations", {"limit": 3}).json()
    _conversation(tenant, "+59899000199")  # arrives while n8n walks the pages: newer than page one
    while True:
        seen += [row["id"] for row in page["results"]]
        if not page["next"]:
            break
        page = api.get(page["next"]).json()
    assert seen == made[::-1]
    assert api.get("/api/v1/conversations", {"limit": 500}).status_code == 400
    forged = api.get("/api/v1/conversations", {"cursor": "0"})
    assert forged.status_code == 400 and "cursor" in forged.json()["error"]["fields"]


def test_quotes_are_listed_with_their_lines_and_filtered(api, tenant):
    system_bootstrap()
    seller = get_user_model().objects.create_user("martin", password="x", is_staff=True)
    conversation = _conversation(tenant, "+59899111222", assigned_to=seller)
    first = say(conversation, REQUEST).quotes[0]
    second = say(conversation, "y en 150?").quotes[0]
    other = say(_conversation(tenant, "+59899111333"), REQUEST).quotes[0]

    rows = api.get("/api/v1/quotes").json()["results"]
    assert [row["id"] for row in rows] == [other, second, first]
    assert rows[-1]["number"] == f"COT-{first:06d}" and rows[-1]["total"] == "1816.95"
    assert rows[-1]["lines"][0]["sku"] == "ISODEC_EPS_100"
    assert _ids(api.get("/api/v1/quotes", {"assigned": "martin"})) == [second, first]
    assert _ids(api.get("/api/v1/quotes", {"customer": conversation.customer_id})) == [second, first]
    assert _ids(api.get("/api/v1/quotes", {"status": "accepted"})) == []
    assert _ids(api.get("/api/v1/quotes", {"since": (timezone.now() + timedelta(minutes=1)).isoformat()})) == []
    assert api.get("/api/v1/quotes", {"status": "paid"}).status_code == 400
