"""The stock alert on real workers: panels reserved under their threshold, stock.low, the demand
forecast, a purchase order a person approves, sent to the supplier's n8n once, the goods received
into stock, the run complete."""

from __future__ import annotations

from decimal import Decimal

import pytest

from agents.inventory.purchasing import purchase_order_receive
from agents.inventory.stock import Need, stock_reserve
from agents.tenants import system_bootstrap
from agents.workflows.engine import workflow_step_decide
from bmc.inventory.models import PurchaseOrder, StockLevel, Supplier, SupplierProduct
from bmc.workflows.models import WorkflowRun, WorkflowStep
from tests.conftest import wait_for
from tests.fakes import FakeJsonServer
from tests.flows.test_beat import beat_running
from tests.flows.test_workflows import FAST_BEAT

pytestmark = pytest.mark.worker


def test_a_product_under_its_threshold_is_bought_once_approved(tenant, start_worker):
    system_bootstrap()
    receiver = FakeJsonServer(lambda request: (200, {"received": True}))
    try:
        supplier = Supplier.objects.create(
            tenant=tenant, name="Paneles del Sur", order_url=receiver.url, order_secret="s3cret", lead_time_days=10
        )
        SupplierProduct.objects.filter(sku="ISOROOF_3G_50").update(supplier=supplier, pack=Decimal(20))
        StockLevel.objects.filter(sku="ISOROOF_3G_50").update(on_hand=Decimal(200), threshold=Decimal(150))
        start_worker(("orchestrator", "inventory"), concurrency=2)
        with beat_running(**FAST_BEAT):
            stock_reserve(tenant=tenant, reference="order:demo", needs=[Need("ISOROOF_3G_50", Decimal(120))])
            approval = wait_for(
                lambda: WorkflowStep.objects.filter(kind="approval", status="waiting").first(), timeout=60
            )
            run = approval.run
            assert run.definition.name == "stock_alert" and run.input["sku"] == "ISOROOF_3G_50"
            suggested = run.context["steps"]["suggest"]
            assert suggested["quantity"] == 80.0  # 150 - 80 available, in packs of 20; no demand yet
            draft = PurchaseOrder.objects.get()
            assert draft.status == "draft" and draft.lines.get().quantity == 80
            assert not receiver.requests  # nothing goes to the supplier before a person says so

            workflow_step_decide(step=approval, approved=True, reason="ok", by="compras")
            wait_for(lambda: PurchaseOrder.objects.get().status == "sent", timeout=60)
            assert purchase_order_receive(order=draft)
            wait_for(lambda: WorkflowRun.objects.get(pk=run.pk).status == "completed", timeout=60)
        (posted,) = receiver.requests
        assert posted["json"]["number"] == draft.number and posted["json"]["supplier"] == "Paneles del Sur"
        level = StockLevel.objects.get(sku="ISOROOF_3G_50")
        assert (level.on_hand, level.reserved) == (Decimal(280), Decimal(120))
        taken = list(run.steps.order_by("id").values_list("name", flat=True))
        assert taken == ["suggest", "buy?", "draft", "approve", "send", "received"]
    finally:
        receiver.close()
