"""The stock alert's parts: demand from the orders a product was in, forecast over the supplier's
lead time, the quantity to buy in packs, a purchase order drafted once, sent once, received once."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from agents.inventory.forecast import demand_daily, demand_forecast, purchase_suggest
from agents.inventory.purchasing import (
    purchase_order_data,
    purchase_order_draft,
    purchase_order_receive,
    purchase_order_send,
)
from agents.orders.service import order_from_quote
from agents.tenants import system_bootstrap
from bmc.events.models import DomainEvent
from bmc.inventory.models import PurchaseOrder, StockLevel, Supplier, SupplierProduct
from bmc.orders.models import Order
from tests.agents.orders.test_orders import quoted  # noqa: F401 (a fixture)
from tests.fakes import FakeJsonServer

pytestmark = pytest.mark.django_db


def test_demand_is_read_from_orders_and_forecast_over_the_lead_time(quoted, tenant):  # noqa: F811
    order = order_from_quote(tenant=tenant, quote_id=quoted.pk, source="api")
    panels = order.lines.get(sku="ISODEC_EPS_100").quantity
    today = timezone.localdate()
    series = demand_daily(tenant_id=tenant.pk, sku="ISODEC_EPS_100", today=today)
    assert len(series) == 90 and series[-1] == float(panels) and sum(series) == float(panels)
    Order.objects.filter(pk=order.pk).update(status="cancelled")
    assert sum(demand_daily(tenant_id=tenant.pk, sku="ISODEC_EPS_100", today=today)) == 0  # cancelled: no demand

    assert demand_forecast([0.0] * 90, horizon=7) == {
        "method": "none (no demand in the history)",
        "per_day": 0.0,
        "total": 0.0,
    }
    assert demand_forecast([0.0] * 89 + [14.0], horizon=7)["total"] == pytest.approx(14 / 90 * 7)
    lumpy = ([0.0, 0.0, 30.0, 0.0, 0.0, 0.0, 27.0] * 13)[:90]
    smoothed = demand_forecast(lumpy, horizon=7)
    assert smoothed["method"] == "simple exponential smoothing"
    assert 20 < smoothed["total"] < 80  # about a week's demand (57 a week), not a spike's


def test_the_quantity_to_buy_covers_the_forecast_and_the_threshold_in_packs(tenant):
    system_bootstrap()
    StockLevel.objects.filter(sku="CUMBRERA").update(on_hand=Decimal(50), threshold=Decimal(80))
    suggested = purchase_suggest(tenant_id=tenant.pk, sku="CUMBRERA", warehouse="planta")
    assert suggested["quantity"] == 30.0  # 80 - 50 available, in packs of 10; no demand yet
    assert (
        suggested["lead_time_days"] == 7 and suggested["title"] == "Comprar 30.00 CUMBRERA a Proveedor de demostración"
    )
    SupplierProduct.objects.filter(sku="CUMBRERA").update(pack=Decimal(25))
    assert purchase_suggest(tenant_id=tenant.pk, sku="CUMBRERA", warehouse="planta")["quantity"] == 50.0
    SupplierProduct.objects.filter(sku="CUMBRERA").delete()
    alone = purchase_suggest(tenant_id=tenant.pk, sku="CUMBRERA", warehouse="planta")
    assert alone["quantity"] == 0 and "sin proveedor cargado" in alone["title"]


def test_a_purchase_order_is_drafted_once_sent_once_and_received_once(tenant, settings):
    system_bootstrap()
    supplier = Supplier.objects.get()
    draft = lambda: purchase_order_draft(  # noqa: E731
        tenant=tenant,
        supplier_id=supplier.pk,
        sku="CUMBRERA",
        warehouse="planta",
        quantity=Decimal(30),
        forecast={"total": 0},
        reason="stock.low:7",
    )
    order = draft()
    assert draft() == order and PurchaseOrder.objects.count() == 1
    assert purchase_order_data(order)["title"] == f"Aprobar la compra {order.number} a {supplier.name}: 30.00 CUMBRERA"

    assert purchase_order_send(order=order)["sent_via"] == "e-mail compras.demo@example.com"
    order.refresh_from_db()
    assert purchase_order_send(order=order)["already"] is True
    (sent,) = mail.outbox
    assert sent.subject == f"Orden de compra {order.number} - BMC Uruguay" and "30.00 CUMBRERA" in sent.body

    before = StockLevel.objects.get(sku="CUMBRERA").on_hand
    assert purchase_order_receive(order=order) and not purchase_order_receive(order=order)
    assert StockLevel.objects.get(sku="CUMBRERA").on_hand == before + 30
    assert DomainEvent.objects.get(type="purchase_order.received").subject == f"purchase_order:{order.pk}"


def test_a_supplier_with_an_n8n_url_gets_the_order_signed(tenant):
    system_bootstrap()
    receiver = FakeJsonServer(lambda request: (200, {"ok": True}))
    try:
        supplier = Supplier.objects.create(tenant=tenant, name="Paneles SA", order_url=receiver.url, order_secret="k")
        order = purchase_order_draft(
            tenant=tenant,
            supplier_id=supplier.pk,
            sku="ISOROOF_3G_50",
            warehouse="planta",
            quantity=Decimal(100),
            forecast={},
            reason="stock.low:9",
        )
        purchase_order_send(order=order)
        purchase_order_send(order=PurchaseOrder.objects.get(pk=order.pk))
        (posted,) = receiver.requests
        assert posted["json"]["number"] == order.number and posted["json"]["lines"] == [
            {"sku": "ISOROOF_3G_50", "quantity": "100.00"}
        ]
        assert posted["headers"]["X-BMC-Signature"].startswith("sha256=")
        assert json.loads(posted["raw"])["type"] == "purchase_order"
    finally:
        receiver.close()
