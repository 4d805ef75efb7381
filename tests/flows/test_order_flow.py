"""The complete order on real workers: a quote request, the quote, "dale, avancemos", the order with
its stock reserved and its Mercado Pago payment link sent to the customer, Mercado Pago's
notification (from a local server speaking its API, delivered twice, the workers killed as it
comes), the order paid, the customer thanked once and staff asked once to schedule the truck."""

from __future__ import annotations

import os
import signal

import pytest

from agents.tenants import system_bootstrap
from bmc.conversations.models import InboundPayload, Message
from bmc.events.models import DomainEvent
from bmc.inventory.models import StockLevel, StockMove
from bmc.orders.models import Order
from bmc.sales.models import StaffTask
from bmc.workflows.models import WorkflowRun
from tests.agents.payments.test_mercadopago import SECRET, notify, signed
from tests.conftest import wait_for
from tests.fakes import FakeMercadoPago
from tests.flows.test_beat import beat_running
from tests.flows.test_message_to_quote import MAIN, post_message, sent_reply
from tests.flows.test_workflows import FAST_BEAT

pytestmark = pytest.mark.worker

QUEUES = ("conversation", "outbound", "quote", "orchestrator", "order", "inventory", "payment")


@pytest.fixture
def mp(settings, monkeypatch):
    fake = FakeMercadoPago()
    values = {
        "MERCADOPAGO_ACCESS_TOKEN": "APP_USR-test",
        "MERCADOPAGO_WEBHOOK_SECRET": SECRET,
        "MERCADOPAGO_API_URL": fake.url,
    }
    for name, value in values.items():
        setattr(settings, name, value)  # this process: the webhook
        monkeypatch.setenv(name, value)  # the workers
    yield fake
    fake.close()


@pytest.fixture
def system(tenant, start_worker, mp):
    system_bootstrap()
    return start_worker(QUEUES, concurrency=2)


def texts(conversation_id: int) -> list[str]:
    return list(
        Message.objects.filter(conversation_id=conversation_id, direction="out", delivery_status="sent")
        .order_by("created_at")
        .values_list("text", flat=True)
    )


def test_the_complete_order_from_a_message_to_a_paid_order(api, client, system, start_worker, mp):
    panels_before = StockLevel.objects.get(sku="ISODEC_EPS_100").on_hand
    with beat_running(**FAST_BEAT):
        conversation_id = post_message(api, MAIN, "n8n-order-1")["conversation_id"]
        wait_for(lambda: sent_reply(conversation_id))
        post_message(api, "dale, avancemos", "n8n-order-2")
        asked = wait_for(lambda: next((t for t in texts(conversation_id) if "Podés pagarlo" in t), None), timeout=60)
        order = Order.objects.get(conversation_id=conversation_id)
        assert f"Tu pedido {order.number} quedó registrado: USD 1.816,95" in asked
        assert f"Podés pagarlo acá: {order.payment_url}" in asked and "pref_id=pref-1" in order.payment_url
        assert order.stock == "reserved" and order.status == "pending_payment"
        listed = api.get(f"/api/v1/conversations/{conversation_id}").json()["orders"]
        assert listed == [
            {
                "id": order.pk,
                "number": order.number,
                "status": "pending_payment",
                "total": "1816.95",
                "payment_url": order.payment_url,
            }
        ]

        # the customer pays; Mercado Pago tells us twice, as the workers die
        mp.payments["71001"] = {
            "id": 71001,
            "status": "approved",
            "transaction_amount": 1816.95,
            "currency_id": "USD",
            "external_reference": f"order:{order.pk}",
        }
        os.killpg(system.process.pid, signal.SIGKILL)
        system.process.wait()
        for _ in range(2):
            assert notify(client, "71001", **signed("71001")).status_code == 200
        start_worker(QUEUES, concurrency=2, name=system.name)
        wait_for(lambda: Order.objects.get(pk=order.pk).status == "paid", timeout=90)
        wait_for(lambda: any("Recibimos el pago" in t for t in texts(conversation_id)), timeout=60)
        wait_for(lambda: WorkflowRun.objects.get(trigger=f"quote:{order.quote_id}").status == "completed", timeout=60)

    assert sum("Recibimos el pago" in t for t in texts(conversation_id)) == 1  # thanked once
    assert sum("Podés pagarlo" in t for t in texts(conversation_id)) == 1
    (schedule,) = StaffTask.objects.filter(kind="schedule_delivery")
    assert order.number in schedule.title
    assert DomainEvent.objects.filter(type="order.paid").count() == 1
    panel = order.lines.get(sku="ISODEC_EPS_100")
    stock = StockLevel.objects.get(sku="ISODEC_EPS_100")
    assert (stock.on_hand, stock.reserved) == (panels_before, panel.quantity)  # held for the truck
    assert StockMove.objects.filter(reference=f"order:{order.pk}", kind="reservation").count() == 5  # not freight
    run = WorkflowRun.objects.get(trigger=f"quote:{order.quote_id}")
    taken = list(run.steps.order_by("id").values_list("name", flat=True))
    assert taken == ["create", "reserve", "stock?", "link", "pay", "paid", "check", "paid?", "thank"]
    assert sorted(p.outcome for p in InboundPayload.objects.filter(source="mercadopago")) == ["accepted", "duplicate"]
    assert len(mp.preferences) == 1
