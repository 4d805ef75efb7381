"""Orders over the API: made from a quote (refused naming why), listed, read; the conversation
shows them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from agents.tenants import system_bootstrap
from bmc.conversations.models import Conversation, Customer
from bmc.quotes.models import Quote
from bmc.workflows.models import WorkflowRun
from tests.agents.conversations.dialogue import say
from tests.agents.orders.test_orders import REQUEST

pytestmark = pytest.mark.django_db


@pytest.fixture
def quote_ids(tenant) -> list[int]:
    system_bootstrap()
    customer = Customer.objects.create(tenant=tenant, phone="+59899111222", name="Ana Gomez")
    conversation = Conversation.objects.create(tenant=tenant, customer=customer)
    return [say(conversation, REQUEST).quotes[0], say(conversation, "y en 150?").quotes[0]]


def test_an_order_is_made_from_a_quote_and_its_workflow_started(api, quote_ids):
    made = api.post("/api/v1/orders", {"quote_id": quote_ids[0]}, format="json")
    assert made.status_code == 201, made.content
    order = made.json()
    assert order["number"] == f"PED-{order['id']:06d}" and order["status"] == "pending_payment"
    assert order["total"] == "1816.95" and order["source"] == "api" and order["stock"] == "pending"
    assert [line["sku"] for line in order["lines"]][:2] == ["ISODEC_EPS_100", "KIT_FIJACION_TECHO"]
    assert Quote.objects.get(pk=quote_ids[0]).status == "accepted"
    assert WorkflowRun.objects.get(trigger=f"quote:{quote_ids[0]}").input == {"quote_id": quote_ids[0], "source": "api"}

    again = api.post("/api/v1/orders", {"quote_id": quote_ids[0]}, format="json")
    assert again.status_code == 400
    assert again.json()["error"]["fields"]["quote_id"] == [
        f"COT-{quote_ids[0]:06d} is already order {order['number']}."
    ]
    assert api.get(f"/api/v1/orders/{order['id']}").json()["lines"] == order["lines"]
    assert [o["id"] for o in api.get("/api/v1/orders", {"status": "pending_payment"}).json()] == [order["id"]]
    assert api.get("/api/v1/orders", {"status": "paid"}).json() == []
    assert api.get("/api/v1/orders", {"status": "lost"}).status_code == 400
    conversation = api.get(f"/api/v1/conversations/{order['conversation_id']}").json()
    assert conversation["orders"] == [
        {
            "id": order["id"],
            "number": order["number"],
            "status": "pending_payment",
            "total": "1816.95",
            "payment_url": None,
        }
    ]


def test_an_expired_or_unknown_quote_is_refused_naming_why(api, quote_ids, other_tenant):
    Quote.objects.filter(pk=quote_ids[1]).update(valid_until=timezone.localdate() - timedelta(days=2))
    expired = api.post("/api/v1/orders", {"quote_id": quote_ids[1]}, format="json").json()
    assert "expired on" in expired["error"]["fields"]["quote_id"][0]
    Quote.objects.filter(pk=quote_ids[0]).update(tenant=other_tenant)
    theirs = api.post("/api/v1/orders", {"quote_id": quote_ids[0]}, format="json").json()
    assert theirs["error"]["fields"]["quote_id"] == [f"Quote {quote_ids[0]} is not one of this company's quotes."]
    assert api.get("/api/v1/orders/999999").status_code == 404
