"""Orders from accepted quotes, their stock and their payment, as the order and inventory agents
do them (tests/flows/test_order_flow.py runs the whole of it on real workers)."""

from __future__ import annotations

import threading
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, close_old_connections, connection
from django.utils import timezone

from agents.events import events_publish
from agents.inventory.stock import Need, StockShort, stock_receive, stock_reserve
from agents.orders.service import (
    OrderRefused,
    delivery_date_propose,
    order_cancel,
    order_deliver,
    order_from_quote,
    order_mark_paid,
    order_stock_reserve,
)
from agents.tenants import system_bootstrap
from bmc.conversations.models import Conversation, Customer, Message
from bmc.core.models import NotInTenant
from bmc.events.models import DomainEvent
from bmc.inventory.models import StockLevel, StockMove, Warehouse
from bmc.orders.models import Order
from bmc.quotes.models import Quote
from bmc.sales.models import StaffTask
from bmc.workflows.models import WorkflowRun
from tests.agents.conversations.dialogue import say

REQUEST = "cuanto sale isodec 100 para un techo de 6 x 4,48 con flete a montevideo"


@pytest.fixture
def quoted(tenant) -> Quote:
    system_bootstrap()
    customer = Customer.objects.create(tenant=tenant, phone="+59899111222", name="Ana Gomez")
    conversation = Conversation.objects.create(tenant=tenant, customer=customer)
    result = say(conversation, REQUEST)
    return Quote.objects.get(pk=result.quotes[0])


def level(sku: str) -> StockLevel:
    return StockLevel.objects.get(sku=sku, warehouse__code="planta")


@pytest.mark.django_db
def test_an_accepted_quote_becomes_an_order_at_its_prices_with_a_delivery_date(quoted, tenant):
    say(quoted.conversation, "dale, avancemos")
    (accepted,) = DomainEvent.objects.filter(type="quote.accepted")
    events_publish(tenant_id=tenant.pk, event_id=accepted.pk)  # the order agent's workflow starts
    run = WorkflowRun.objects.get(trigger=f"quote:{quoted.pk}")
    assert run.definition.name == "order_complete" and run.input == {"quote_id": quoted.pk, "source": "conversation"}

    order = order_from_quote(tenant=tenant, quote_id=quoted.pk, source="conversation", existing_ok=True)
    assert (order.total, order.currency, order.catalog_version_id) == (quoted.total, "USD", quoted.catalog_version_id)
    assert [(line.sku, line.quantity, line.unit_price, line.amount) for line in order.lines.all()] == [
        (line.sku, line.quantity, line.unit_price, line.amount) for line in quoted.lines.all()
    ]
    assert order.zone == "MONTEVIDEO" and order.delivery_date == delivery_date_propose(
        zone="MONTEVIDEO", ordered=timezone.localdate()
    )
    assert order.number == f"PED-{order.pk:06d}" and order.status == "pending_payment"
    assert DomainEvent.objects.get(type="order.created").data["order_id"] == order.pk
    assert order_from_quote(tenant=tenant, quote_id=quoted.pk, source="api", existing_ok=True) == order  # a step again


@pytest.mark.django_db
def test_a_quote_that_cannot_be_ordered_is_refused_naming_why(quoted, tenant, other_tenant):
    order_from_quote(tenant=tenant, quote_id=quoted.pk, source="api")
    with pytest.raises(OrderRefused, match=f"{quoted.number} ya es el pedido PED-"):
        order_from_quote(tenant=tenant, quote_id=quoted.pk, source="api")
    with pytest.raises(NotInTenant):
        order_from_quote(tenant=other_tenant, quote_id=quoted.pk, source="api")
    other = say(quoted.conversation, "y en 150?").quotes[0]
    Quote.objects.filter(pk=other).update(valid_until=timezone.localdate() - timedelta(days=1))
    with pytest.raises(OrderRefused, match="venció el") as expired:
        order_from_quote(tenant=tenant, quote_id=other, source="api")
    assert expired.value.code == "expired"
    Quote.objects.filter(pk=other).update(valid_until=timezone.localdate(), status="rejected")
    with pytest.raises(OrderRefused, match="fue rechazada"):
        order_from_quote(tenant=tenant, quote_id=other, source="api")


def test_the_delivery_date_counts_business_days_past_weekends_and_holidays():
    assert delivery_date_propose(zone="MONTEVIDEO", ordered=date(2026, 12, 3)) == date(2026, 12, 7)  # Thu -> Mon
    assert delivery_date_propose(zone="", ordered=date(2026, 12, 24)) == date(2026, 12, 28)  # Christmas, weekend
    assert delivery_date_propose(zone="INTERIOR", ordered=date(2027, 2, 5)) == date(2027, 2, 16)  # Carnival 8-9
    assert delivery_date_propose(zone="CANELONES", ordered=date(2026, 12, 3)) == date(2026, 12, 8)


@pytest.mark.django_db
def test_stock_is_reserved_all_or_nothing_released_on_cancel_and_shipped_on_delivery(quoted, tenant):
    order = order_from_quote(tenant=tenant, quote_id=quoted.pk, source="api")
    panel = order.lines.get(sku="ISODEC_EPS_100")
    assert order_stock_reserve(order=order)["stock"] == "reserved"
    assert order_stock_reserve(order=order)["stock"] == "reserved"  # the step again: reserved once
    assert level("ISODEC_EPS_100").reserved == panel.quantity
    assert not StockMove.objects.filter(level__sku="FLETE_MONTEVIDEO").exists()  # freight is not stock
    reserved = {m.level.sku: m.quantity for m in StockMove.objects.filter(kind="reservation")}
    assert reserved == {line.sku: line.quantity for line in order.lines.exclude(sku="FLETE_MONTEVIDEO")}

    assert order_cancel(order=order, reason="cambió de idea")
    assert level("ISODEC_EPS_100").reserved == 0 and Order.objects.get(pk=order.pk).stock == "released"
    assert not order_cancel(order=order, reason="again")
    assert StockMove.objects.filter(kind="release").count() == len(reserved)  # released once


@pytest.mark.django_db
def test_a_short_order_reserves_nothing_and_tells_staff_what_is_missing(quoted, tenant):
    order = order_from_quote(tenant=tenant, quote_id=quoted.pk, source="api")
    StockLevel.objects.filter(sku="SILICONA").update(on_hand=0)
    outcome = order_stock_reserve(order=order)
    assert outcome["stock"] == "short" and outcome["short"][0]["sku"] == "SILICONA"
    assert "Stock insuficiente para PED-" in outcome["title"] and "SILICONA" in outcome["title"]
    assert not StockMove.objects.exists() and level("ISODEC_EPS_100").reserved == 0  # nothing held
    stock_receive(
        tenant=tenant,
        warehouse=Warehouse.objects.get(code="planta"),
        sku="SILICONA",
        quantity=Decimal(10),
        reference="po:1",
        key="po:1:SILICONA",
    )
    assert order_stock_reserve(order=order)["stock"] == "reserved"


@pytest.mark.django_db(transaction=True)
def test_two_orders_racing_for_the_last_panels_one_gets_them(tenant):
    system_bootstrap()
    StockLevel.objects.filter(sku="ISOROOF_3G_50").update(on_hand=Decimal("30"))
    outcomes: dict[str, str] = {}

    def order(name: str) -> None:
        close_old_connections()
        try:
            stock_reserve(tenant=tenant, reference=name, needs=[Need("ISOROOF_3G_50", Decimal("20"))])
            outcomes[name] = "reserved"
        except StockShort:
            outcomes[name] = "short"
        finally:
            connection.close()

    racers = [threading.Thread(target=order, args=(f"order:{n}",)) for n in (1, 2)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join()
    assert sorted(outcomes.values()) == ["reserved", "short"]
    assert level("ISOROOF_3G_50").reserved == Decimal("20")
    with pytest.raises(IntegrityError):  # and the database refuses more reserved than on hand
        StockLevel.objects.filter(sku="ISOROOF_3G_50").update(reserved=Decimal("31"))


@pytest.mark.django_db
def test_stock_under_its_threshold_is_said_once_until_goods_lift_it(tenant):
    system_bootstrap()
    StockLevel.objects.filter(sku="CUMBRERA").update(on_hand=Decimal(100), threshold=Decimal(80))
    stock_reserve(tenant=tenant, reference="order:1", needs=[Need("CUMBRERA", Decimal(10))])
    assert not DomainEvent.objects.filter(type="stock.low").exists()  # 90 available: over 80
    stock_reserve(tenant=tenant, reference="order:2", needs=[Need("CUMBRERA", Decimal(15))])
    stock_reserve(tenant=tenant, reference="order:3", needs=[Need("CUMBRERA", Decimal(5))])
    (low,) = DomainEvent.objects.filter(type="stock.low")
    assert low.subject == "stock:planta:CUMBRERA" and low.data["available"] == "75.00"
    planta = Warehouse.objects.get(code="planta")
    stock_receive(tenant=tenant, warehouse=planta, sku="CUMBRERA", quantity=Decimal(100), reference="po", key="po:1")
    stock_reserve(tenant=tenant, reference="order:4", needs=[Need("CUMBRERA", Decimal(110))])
    assert DomainEvent.objects.filter(type="stock.low").count() == 2


@pytest.mark.django_db
def test_a_payment_short_or_in_another_currency_goes_to_staff_and_a_full_one_pays(quoted, tenant):
    order = order_from_quote(tenant=tenant, quote_id=quoted.pk, source="api")
    short = order_mark_paid(order=order, amount=order.total - 1, currency="USD", reference="mp:1")
    foreign = order_mark_paid(order=order, amount=order.total * 40, currency="UYU", reference="mp:2")
    assert short["paid"] is False and foreign["paid"] is False
    assert StaffTask.objects.filter(kind="payment_claimed").count() == 2
    assert Order.objects.get(pk=order.pk).status == "pending_payment"
    assert order_mark_paid(order=order, amount=order.total, currency="USD", reference="mp:3") == {"paid": True}
    assert order_mark_paid(order=order, amount=order.total, currency="USD", reference="mp:3") == {"paid": True}
    assert Order.objects.get(pk=order.pk).status == "paid"
    assert DomainEvent.objects.filter(type="order.paid").count() == 1  # paid once
    assert order_deliver(order=order)
    assert Order.objects.get(pk=order.pk).stock == "pending"  # nothing was reserved: nothing shipped


@pytest.mark.django_db
def test_a_customer_who_says_they_transferred_for_an_order_leaves_it_for_staff_to_confirm(quoted, tenant):
    order = order_from_quote(tenant=tenant, quote_id=quoted.pk, source="conversation")
    conversation = quoted.conversation
    Message.objects.create(
        tenant=tenant,
        conversation=conversation,
        direction="in",
        channel="whatsapp",
        text="",
        raw_payload={"type": "image", "image": {"id": "wamid.receipt"}},
    )
    result = say(conversation, "ya te transferi, ahi va el comprobante")
    text = Message.objects.get(pk=result.replies[0]).text
    assert f"transferencia de tu pedido {order.number} (USD 1.816,95)" in text
    task = StaffTask.objects.get(kind="payment_claimed")
    assert task.title == f"Confirmar la transferencia del pedido {order.number} (Ana Gomez)"
    assert "Mandó el comprobante" in task.detail and task.message.raw_payload["type"] == "image"
    assert Order.objects.get(pk=order.pk).status == "pending_payment"  # a person confirms it first


@pytest.mark.django_db
def test_a_cancelled_order_stops_its_workflow_and_a_late_payment_goes_back(quoted, tenant):
    from agents.orders.service import order_payment_request, order_place

    order = order_place(tenant=tenant, quote_id=quoted.pk, source="api")
    run = WorkflowRun.objects.get(trigger=f"quote:{quoted.pk}")
    assert order_cancel(order=order, reason="el cliente desistió")
    run.refresh_from_db()
    assert run.status == "cancelled" and "desistió" in run.error
    assert order_payment_request(order=order) == {"message_id": None, "status": "cancelled"}
    assert order_stock_reserve(order=order)["cancelled"] is True and not StockMove.objects.exists()
    late = order_mark_paid(order=order, amount=order.total, currency="USD", reference="mp:9")
    assert late["paid"] is False and "cancelado: devolverlo" in StaffTask.objects.get(pk=late["staff_task_id"]).title
    assert Order.objects.get(pk=order.pk).status == "cancelled"
