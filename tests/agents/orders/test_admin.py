"""Orders and stock in the admin: a quote ordered, a transfer confirmed, a delivery date set, goods
received; each page of them opens."""

from __future__ import annotations

import pytest
from django.urls import reverse

from agents.orders.service import order_mark_paid, order_stock_reserve
from bmc.events.models import DomainEvent
from bmc.inventory.models import StockLevel, StockMove
from bmc.orders.models import Order
from bmc.workflows.models import WorkflowRun
from tests.agents.orders.test_orders import quoted  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db


def test_staff_order_a_quote_confirm_the_transfer_and_schedule_the_truck(admin_client, quoted):  # noqa: F811
    changelist = reverse("admin:quotes_quote_changelist")
    admin_client.post(changelist, {"action": "make_orders", "_selected_action": [quoted.pk]})
    order = Order.objects.get(quote=quoted)
    assert order.source == "admin" and WorkflowRun.objects.filter(trigger=f"quote:{quoted.pk}").exists()
    again = admin_client.post(changelist, {"action": "make_orders", "_selected_action": [quoted.pk]}, follow=True)
    assert f"ya es el pedido {order.number}" in again.content.decode()

    order_stock_reserve(order=order)
    page = admin_client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    assert order.number in page and "ISODEC_EPS_100" in page
    orders = reverse("admin:orders_order_changelist")
    admin_client.post(orders, {"action": "transfer_received", "_selected_action": [order.pk]})
    (payment,) = DomainEvent.objects.filter(type="payment.received")
    assert payment.subject == f"order:{order.pk}" and payment.data["amount"] == "1816.95"
    assert payment.data["method"] == "transfer"  # the workflow's check marks it paid; here by hand:
    order_mark_paid(order=order, amount=order.total, currency="USD", reference=str(payment.pk))

    form = {"delivery_date": "15/12/2026", "lines-TOTAL_FORMS": "0", "lines-INITIAL_FORMS": "0"}
    admin_client.post(reverse("admin:orders_order_change", args=[order.pk]), form)
    order.refresh_from_db()
    assert order.status == "scheduled" and f"{order.delivery_date:%Y-%m-%d}" == "2026-12-15"
    admin_client.post(orders, {"action": "delivered", "_selected_action": [order.pk]})
    order.refresh_from_db()
    assert order.status == "delivered" and order.stock == "shipped"


def test_goods_received_in_the_admin_raise_the_stock_once(admin_client, quoted):  # noqa: F811
    level = StockLevel.objects.get(sku="ISODEC_EPS_100")
    url = reverse("admin:inventory_stocklevel_change", args=[level.pk])
    form = {
        "warehouse": level.warehouse_id,
        "sku": level.sku,
        "threshold": "150",
        "received": "40",
        "moves-TOTAL_FORMS": "0",
        "moves-INITIAL_FORMS": "0",
    }
    assert admin_client.post(url, form).status_code == 302
    level.refresh_from_db()
    assert level.on_hand == 640 and StockMove.objects.get(kind="receipt").quantity == 40
    assert "640" in admin_client.get(url).content.decode()
