"""The complete order on real workers: a quote request, the quote, "dale, avancemos", the order with
its stock reserved and its Mercado Pago payment link sent to the customer, Mercado Pago's
notification (from a local server speaking its API, delivered twice, the workers killed as it
comes), the order paid, the customer thanked once and staff asked once to schedule the truck."""

from __future__ import annotations

import os
import signal
import time

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


def test_the_complete_order_ends_the_same_with_the_workers_killed_as_it_runs(api, client, system, start_worker, mp):
    """kill -9 of the workers (main process and pool) each time the order's run has moved, the
    notification delivered twice: paid once, one link, one request, one thanks, one task."""
    worker, kills = system, 0
    paid_for = False
    panels_before = StockLevel.objects.get(sku="ISODEC_EPS_100").on_hand
    with beat_running(**FAST_BEAT):
        conversation_id = post_message(api, MAIN, "n8n-kill-1")["conversation_id"]
        wait_for(lambda: sent_reply(conversation_id))
        post_message(api, "dale, avancemos", "n8n-kill-2")
        seen, deadline = None, time.monotonic() + 240
        while time.monotonic() < deadline:
            run = WorkflowRun.objects.filter(trigger__startswith="quote:").first()
            if run is not None and run.status == "completed":
                break
            order = Order.objects.filter(conversation_id=conversation_id).first()
            if order is not None and order.payment_url and not paid_for:
                mp.payments["72001"] = {
                    "id": 72001,
                    "status": "approved",
                    "transaction_amount": float(order.total),
                    "currency_id": order.currency,
                    "external_reference": f"order:{order.pk}",
                }
                for _ in range(2):
                    assert notify(client, "72001", **signed("72001")).status_code == 200
                paid_for = True
            progress = list(run.steps.values_list("pk", "status")) if run else None
            if run is not None and progress != seen and kills < 3:
                seen = progress
                os.killpg(worker.process.pid, signal.SIGKILL)
                worker.process.wait()
                kills += 1
                worker = start_worker(QUEUES, concurrency=2, name=system.name)
            time.sleep(0.2)
        wait_for(lambda: any("Recibimos el pago" in t for t in texts(conversation_id)), timeout=60)
    print(f"the order's run resumed after {kills} kills")
    order = Order.objects.get(conversation_id=conversation_id)
    assert order.status == "paid" and order.stock == "reserved"
    outbound = texts(conversation_id)
    assert [sum(phrase in t for t in outbound) for phrase in ("Podés pagarlo", "Recibimos el pago")] == [1, 1]
    asked = next(t for t in outbound if "Podés pagarlo" in t)
    assert f"Tu pedido {order.number} quedó registrado: USD 1.816,95" in asked
    assert f"Podés pagarlo acá: {order.payment_url}" in asked and "pref_id=pref-1" in order.payment_url
    listed = api.get(f"/api/v1/conversations/{conversation_id}").json()["orders"]
    assert listed == [
        {"id": order.pk, "number": order.number, "status": "paid", "total": "1816.95", "payment_url": order.payment_url}
    ]
    panel = order.lines.get(sku="ISODEC_EPS_100")
    stock = StockLevel.objects.get(sku="ISODEC_EPS_100")
    assert (stock.on_hand, stock.reserved) == (panels_before, panel.quantity)  # held for the truck
    assert len(mp.preferences) == 1 and StaffTask.objects.filter(kind="schedule_delivery").count() == 1
    assert DomainEvent.objects.filter(type="order.paid").count() == 1
    assert StockMove.objects.filter(reference=f"order:{order.pk}", kind="reservation").count() == 5
    run = WorkflowRun.objects.get(trigger=f"quote:{order.quote_id}")
    assert run.status == "completed" and kills >= 2  # as many as the run took, at most 3 (each costs ~24 s)
    taken = list(run.steps.order_by("id").values_list("name", flat=True))
    assert taken == ["create", "reserve", "stock?", "link", "pay", "paid", "check", "paid?", "thank"]  # each once
    # the second notification's task may have been among those killed: the reaper sends it again
    outcomes = wait_for(
        lambda: (
            (o := sorted(p.outcome for p in InboundPayload.objects.filter(source="mercadopago")))
            and "received" not in o
            and o
        ),
        timeout=120,
    )
    assert outcomes == ["accepted", "duplicate"]
