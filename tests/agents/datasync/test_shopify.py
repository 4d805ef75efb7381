"""Shopify through ShopifyAPI against its sandbox: the catalog as products and variants, priced
and stocked, only what differs sent; paid orders made orders once, from a listing or a signed
webhook stored raw first; cancellations followed."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from agents.datasync.shopify import shopify_webhook_apply
from bmc.conversations.models import InboundPayload
from bmc.datasync.models import SyncLink
from bmc.inventory.models import StockLevel
from bmc.jobs.models import AgentTask
from bmc.orders.models import Order
from bmc.quotes.models import Product
from bmc.sales.models import StaffTask
from scripts.sandbox.http import Reply
from tests.agents.datasync.conftest import available, sync_now

pytestmark = pytest.mark.django_db


def test_the_catalog_becomes_products_priced_and_stocked_and_a_repeated_run_sends_nothing(shop, tenant, settings):
    settings.SHOPIFY_MARKUP = 1.05
    shop.product_put("ISODEC_EPS_100", "10.00")  # already in the shop, at a wrong price
    shop.page_size = 10  # the listing comes in pages
    run = sync_now(tenant, "shopify")
    assert run.status == "succeeded", run.error
    products = run.detail["products"]
    catalog = Product.objects.filter(catalog_version__is_current=True).count()
    assert (products["read"], products["created"], products["updated"]) == (catalog, catalog - 1, 1)
    assert shop.variant("ISODEC_EPS_100")["price"] == str(
        (Decimal("49.88") * Decimal("1.05")).quantize(Decimal("0.01"))
    )
    assert len(shop.products) == catalog
    stocked = StockLevel.objects.values_list("sku", flat=True).distinct().count()
    assert products["inventory"] == {"updated": stocked, "unchanged": 0}
    assert shop.levels[shop.variant("ISODEC_EPS_150")["inventory_item_id"]] == available("ISODEC_EPS_150")
    assert SyncLink.objects.filter(source="shopify", kind="product").count() == catalog - 1

    writes = len(shop.calls("POST")) + len(shop.calls("PUT"))
    again = sync_now(tenant, "shopify")
    assert again.detail["products"]["unchanged"] == catalog and again.detail["products"]["inventory"]["updated"] == 0
    assert len(shop.calls("POST")) + len(shop.calls("PUT")) == writes  # a repeated run changes nothing
    assert len(shop.products) == catalog


def test_paid_orders_become_orders_once_and_cancellations_follow(shop, tenant):
    shop.product_put("ISODEC_EPS_100", "49.88")
    before = available("ISODEC_EPS_100")
    paid = shop.order_place("ISODEC_EPS_100", 4, phone="+59899555111")
    shop.order_place("ISODEC_EPS_100", 1, paid=False)
    run = sync_now(tenant, "shopify")
    assert run.detail["orders"]["created"] == 1
    order = Order.objects.get(source="shopify")
    assert (order.external_id, order.status, order.total, order.customer.phone, order.customer.name) == (
        str(paid["id"]),
        "paid",
        Decimal("199.52"),
        "+59899555111",
        "Lucía Pérez",
    )
    assert available("ISODEC_EPS_100") == before - 4
    assert sync_now(tenant, "shopify").detail["orders"]["created"] == 0 and Order.objects.count() == 1

    shop.order_cancel(paid["id"])
    assert sync_now(tenant, "shopify").detail["orders"]["updated"] == 1
    assert Order.objects.get(pk=order.pk).status == "cancelled" and available("ISODEC_EPS_100") == before


def test_a_signed_webhook_is_stored_raw_and_its_order_applied_once_and_a_forged_one_refused(shop, tenant):
    shop.product_put("ISODEC_EPS_100", "49.88")
    order = shop.order_place("ISODEC_EPS_100", 2)
    body, headers = shop.webhook_body("orders/paid", order)
    web = Client()
    meta = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items() if k != "Content-Type"}
    response = web.post("/api/v1/webhooks/shopify", data=body, content_type="application/json", **meta)
    assert response.status_code == 200
    stored = InboundPayload.objects.get(source="shopify")
    assert stored.body == body.decode() and stored.headers["x-shopify-topic"] == "orders/paid"
    task = AgentTask.objects.get(task_type="datasync.shopify_order")
    assert task.payload == {"payload_id": stored.pk}

    assert shopify_webhook_apply(tenant=tenant, payload_id=stored.pk)["outcome"] == "created"
    assert shopify_webhook_apply(tenant=tenant, payload_id=stored.pk)["outcome"] == "unchanged"  # delivered twice
    assert Order.objects.filter(source="shopify").count() == 1

    forged = web.post(
        "/api/v1/webhooks/shopify",
        data=body.replace(b'"quantity": 2', b'"quantity": 200'),
        content_type="application/json",
        **meta,
    )
    assert forged.status_code == 401 and "does not match" in forged.json()["error"]["message"]
    refused = InboundPayload.objects.filter(source="shopify").latest("pk")
    assert refused.outcome == "rejected" and '"quantity": 200' in refused.body  # kept for the audit


def test_an_access_token_refused_fails_the_run_and_429_is_waited_out(shop, tenant, settings):
    shop.faults.extend([Reply(429, {"errors": "Exceeded 2 calls per second"}, {"Retry-After": "0.2"}), Reply(502, {})])
    assert sync_now(tenant, "shopify").status == "succeeded"
    settings.SHOPIFY_ACCESS_TOKEN = "shpat_revoked"
    failed = sync_now(tenant, "shopify")
    assert failed.status == "failed" and "refused SHOPIFY_ACCESS_TOKEN" in failed.error


def test_a_product_shopify_refuses_is_refused_alone(shop, tenant):
    shop.product_put("ISODEC_EPS_100", "10.00")
    shop.product_put("ISODEC_EPS_150", "10.00")
    shop.refused_skus.add("ISODEC_EPS_100")
    run = sync_now(tenant, "shopify")
    assert run.status == "succeeded" and run.refused == 1
    assert run.refusals[0]["sku"] == "ISODEC_EPS_100" and "while a sale is on" in run.refusals[0]["reason"]
    assert shop.variant("ISODEC_EPS_150")["price"] == "59.64" and shop.variant("ISODEC_EPS_100")["price"] == "10.00"


def test_a_create_whose_answer_was_lost_is_not_sent_again_nor_duplicated(shop, tenant):
    shop.faults.append(Reply(502, {}, done=True, on="POST"))  # the first create is made, its answer lost
    failed = sync_now(tenant, "shopify")
    assert failed.status == "failed" and "not sent again" in failed.error
    assert len(shop.products) == 1
    assert sync_now(tenant, "shopify").status == "succeeded"
    catalog = Product.objects.filter(catalog_version__is_current=True).count()
    skus = [v["sku"] for p in shop.products.values() for v in p["variants"]]
    assert len(skus) == len(set(skus)) == catalog  # the one made before is found, not made twice


def test_what_the_buyer_paid_is_the_order_discounts_shipping_and_tax_included(shop, tenant):
    from agents.datasync.shopify import shopify_order_apply

    raw = {
        "id": 4401,
        "financial_status": "paid",
        "currency": "USD",
        "taxes_included": False,
        "line_items": [
            {
                "sku": "ISODEC_EPS_100",
                "title": "Isodec EPS 100 mm",
                "quantity": 10,
                "price": "49.88",
                "discount_allocations": [{"amount": "49.88"}],  # a 10 % code
                "tax_lines": [{"price": "98.76", "rate": 0.22}],
            }
        ],
        "shipping_lines": [
            {"title": "Flete Montevideo", "price": "60.00", "discounted_price": "50.00", "tax_lines": []}
        ],
    }
    assert shopify_order_apply(tenant=tenant, raw=raw) == "created"
    order = Order.objects.get(external_id="4401")
    assert [(line.sku, line.quantity, line.unit_price) for line in order.lines.order_by("position")] == [  # to the cent
        ("ISODEC_EPS_100", Decimal("10"), Decimal("54.77")),
        ("ENVIO", Decimal("1"), Decimal("50.00")),
    ]
    assert order.total == Decimal("597.68")  # 498.80 - 49.88 + 98.76 + 50.00: tax was left out of the prices


def test_a_late_paid_webhook_does_not_bring_back_an_order_cancelled_since(shop, tenant):
    from agents.datasync.shopify import shopify_webhook_apply

    shop.product_put("ISODEC_EPS_100", "49.88")
    order = shop.order_place("ISODEC_EPS_100", 2)
    body, _ = shop.webhook_body("orders/paid", order)  # sent when it was paid...
    shop.order_cancel(order["id"])  # ...and it was cancelled before the webhook was handled
    payload = InboundPayload.objects.create(tenant=tenant, source="shopify", body=body.decode())
    assert shopify_webhook_apply(tenant=tenant, payload_id=payload.pk)["outcome"] == "unchanged"
    assert not Order.objects.filter(source="shopify").exists()


def test_an_order_recorded_by_a_run_killed_before_its_stock_is_reserved_gets_it_next_time(shop, tenant):
    from agents.orders.marketplace import MarketLine, market_order_record

    shop.product_put("ISODEC_EPS_100", "49.88")
    paid = shop.order_place("ISODEC_EPS_100", 5)
    before = available("ISODEC_EPS_100")
    line = MarketLine(sku="ISODEC_EPS_100", description="x", quantity=Decimal(5), unit_price=Decimal("49.88"))
    with pytest.MonkeyPatch.context() as patch:  # the worker dies right after the order's commit
        patch.setattr("agents.orders.marketplace._follow", lambda order: None)
        market_order_record(
            tenant=tenant, source="shopify", external_id=str(paid["id"]), lines=[line], currency="USD", paid=True
        )
    assert available("ISODEC_EPS_100") == before and Order.objects.get().stock == "pending"
    sync_now(tenant, "shopify")
    assert available("ISODEC_EPS_100") == before - 5 and Order.objects.get().stock == "reserved"
    assert StaffTask.objects.filter(kind="schedule_delivery").count() == 1
