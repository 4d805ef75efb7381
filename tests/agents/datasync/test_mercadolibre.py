"""MercadoLibre against its sandbox: listings priced and stocked from the catalog and the
inventory, questions answered by the agents or left to staff and posted back once, paid orders
made orders once, the OAuth token refreshed and its rotating refresh token kept encrypted."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from agents.datasync.secrets import secrets_open, secrets_seal
from bmc.datasync.models import MarketQuestion, SyncSource
from bmc.orders.models import Order
from bmc.sales.models import StaffTask
from scripts.sandbox.http import Reply
from tests.agents.datasync.conftest import available, sync_now

pytestmark = pytest.mark.django_db


def test_listings_get_the_catalog_price_and_the_stock_and_only_what_differs_is_sent(ml, tenant, settings):
    settings.MERCADOLIBRE_MARKUP = 1.10
    ml.item_put("MLU1", sku="ISODEC_EPS_100", price=10.0, quantity=1)
    ml.item_put("MLU2", sku="ISOROOF_3G_30", price=0, quantity=0)
    ml.item_put("MLU3", sku="NO_SUCH_PANEL", price=5.0, quantity=5)
    run = sync_now(tenant, "mercadolibre")
    assert run.status == "succeeded", run.error
    listings = run.detail["listings"]
    assert (listings["read"], listings["updated"], listings["refused"]) == (3, 2, 1)
    assert ml.items["MLU1"]["price"] == float((Decimal("49.88") * Decimal("1.10")).quantize(Decimal("0.01")))
    assert ml.items["MLU1"]["available_quantity"] == available("ISODEC_EPS_100")
    assert run.refusals == [
        {
            "part": "listings",
            "id": "MLU3",
            "sku": "NO_SUCH_PANEL",
            "reason": "Publicación MLU3: el SKU 'NO_SUCH_PANEL' no está en el catálogo.",
        }
    ]

    puts = len(ml.calls("PUT"))
    again = sync_now(tenant, "mercadolibre")
    assert again.detail["listings"]["unchanged"] == 2 and len(ml.calls("PUT")) == puts  # a repeated run sends nothing


def test_the_refresh_token_rotates_and_is_kept_encrypted(ml, tenant, settings):
    first_refresh = settings.MERCADOLIBRE_REFRESH_TOKEN
    sync_now(tenant, "mercadolibre")
    source = SyncSource.objects.get(tenant=tenant, source="mercadolibre")
    kept = secrets_open(source.secrets)
    assert kept["refresh_token"] != first_refresh and kept["refresh_token"] in ml.refresh_tokens
    assert first_refresh not in source.secrets and kept["access_token"] not in source.secrets  # encrypted at rest

    tokens = len(ml.calls("POST", "/oauth/token"))
    sync_now(tenant, "mercadolibre")  # the access token is still good: no refresh
    assert len(ml.calls("POST", "/oauth/token")) == tokens

    ml.access_tokens.clear()  # expired early: the 401 makes it refresh with the newest refresh token
    assert sync_now(tenant, "mercadolibre").status == "succeeded"
    assert len(ml.calls("POST", "/oauth/token")) == tokens + 1

    kept = secrets_open(SyncSource.objects.get(pk=source.pk).secrets)
    kept["expires_at"] = (timezone.now() + timedelta(minutes=5)).isoformat()  # about to expire: refreshed first
    SyncSource.objects.filter(pk=source.pk).update(secrets=secrets_seal(kept))
    sync_now(tenant, "mercadolibre")
    assert len(ml.calls("POST", "/oauth/token")) == tokens + 2

    ml.refresh_tokens.clear()  # the seller revoked the app
    ml.access_tokens.clear()
    failed = sync_now(tenant, "mercadolibre")
    assert failed.status == "failed" and "authorize the app again" in failed.error


def test_questions_are_answered_from_the_catalog_or_left_to_staff_and_posted_once(ml, tenant):
    ml.item_put("MLU1", sku="ISODEC_EPS_100", price=49.88, quantity=600)
    colors = ml.question_ask("MLU1", "Hola, de que colores viene este panel?")  # the listing's panel
    invoice = ml.question_ask("MLU1", "Me hacen factura a nombre de la empresa?")
    run = sync_now(tenant, "mercadolibre")
    assert (run.detail["questions"]["answered"], run.detail["questions"]["to_staff"]) == (1, 1)
    answered = ml.questions[colors]
    assert answered["status"] == "ANSWERED" and answered["answer"]["text"].startswith("El Isodec EPS viene en Blanco")
    assert MarketQuestion.objects.get(question_id=str(colors)).status == "answered"
    staff_question = MarketQuestion.objects.get(question_id=str(invoice))
    assert staff_question.status == "staff" and staff_question.raw["text"] == "Me hacen factura a nombre de la empresa?"
    task = StaffTask.objects.get(kind="market_question")
    assert "factura" in task.title

    sync_now(tenant, "mercadolibre")  # nothing new: no second answer, no second task
    assert len(ml.calls("POST", "/answers")) == 1 and StaffTask.objects.filter(kind="market_question").count() == 1

    staff_question.answer = "Sí, con RUT: pasanos los datos por mensaje."  # staff answer in the admin
    staff_question.save()
    sync_now(tenant, "mercadolibre")
    assert ml.questions[invoice]["answer"]["text"].startswith("Sí, con RUT")
    assert MarketQuestion.objects.get(pk=staff_question.pk).status == "answered"
    assert len(ml.calls("POST", "/answers")) == 2


def test_paid_orders_become_orders_once_and_a_cancellation_follows(ml, tenant):
    ml.item_put("MLU1", sku="ISODEC_EPS_100", price=49.88, quantity=600)
    before = available("ISODEC_EPS_100")
    paid = ml.order_buy("MLU1", 10)
    ml.order_buy("MLU1", 3, status="payment_required")  # not paid yet: not an order here
    run = sync_now(tenant, "mercadolibre")
    assert run.detail["orders"]["created"] == 1
    order = Order.objects.get(source="mercadolibre")
    assert (order.external_id, order.status, order.stock, order.total, order.buyer) == (
        str(paid),
        "paid",
        "reserved",
        Decimal("498.80"),
        "COMPRADOR_TEST",
    )
    assert order.subtotal + order.iva == order.total and order.quote.status == "accepted"
    assert available("ISODEC_EPS_100") == before - 10
    assert StaffTask.objects.filter(kind="schedule_delivery").count() == 1

    assert sync_now(tenant, "mercadolibre").detail["orders"]["created"] == 0 and Order.objects.count() == 1

    ml.order_cancel(paid)
    assert sync_now(tenant, "mercadolibre").detail["orders"]["updated"] == 1
    order.refresh_from_db()
    assert order.status == "cancelled" and available("ISODEC_EPS_100") == before


def test_500_and_429_are_retried(ml, tenant):
    ml.item_put("MLU1", sku="ISODEC_EPS_100", price=1.0, quantity=1)
    ml.faults.extend([Reply(500, {"status": 500}), Reply(429, {"status": 429}, {"Retry-After": "0.1"})])
    run = sync_now(tenant, "mercadolibre")
    assert run.status == "succeeded" and run.detail["listings"]["updated"] == 1


def test_an_answer_mercadolibre_refuses_goes_back_to_staff_and_the_run_goes_on(ml, tenant):
    ml.item_put("MLU1", sku="ISODEC_EPS_100", price=49.88, quantity=600)
    question = ml.question_ask("MLU1", "Me hacen factura a nombre de la empresa?")
    sync_now(tenant, "mercadolibre")  # left to staff
    stored = MarketQuestion.objects.get(question_id=str(question))
    stored.answer = "Sí, llamanos al 099123456"  # contact details: MercadoLibre refuses it
    stored.save()
    ml.order_buy("MLU1", 2)
    run = sync_now(tenant, "mercadolibre")
    assert run.status == "succeeded" and run.detail["orders"]["created"] == 1  # the rest went on
    assert run.refusals[0]["id"] == str(question) and "forbidden" in run.refusals[0]["reason"]
    stored.refresh_from_db()
    assert stored.status == "staff" and "forbidden" in stored.error  # staff can write it again
    assert ml.questions[question]["status"] == "UNANSWERED"

    stored.answer = "Sí, con RUT: pasanos los datos por mensaje."
    stored.save()
    ml.faults.append(Reply(502, {"status": 502}, done=True, on="POST /answers"))  # posted, its reply lost
    failed = sync_now(tenant, "mercadolibre")
    assert failed.status == "failed" and "not sent again" in failed.error
    assert sync_now(tenant, "mercadolibre").status == "succeeded"  # no longer pending there: closed
    assert len(ml.calls("POST", "/answers")) == 2  # refused once, answered once: never twice
    assert ml.questions[question]["answer"]["text"].startswith("Sí, con RUT")
    assert MarketQuestion.objects.get(pk=stored.pk).status == "answered"


def test_a_refused_order_is_read_again_not_passed_by_the_cursor(ml, tenant):
    ml.item_put("MLU1", sku="ISODEC_EPS_100", price=49.88, quantity=600)
    broken = ml.order_buy("MLU1", 1)
    ml.orders[broken]["order_items"] = []  # nothing in it: refused
    ml.orders[broken]["date_last_updated"] = "2026-01-01T00:00:00.000+00:00"  # older than what follows
    assert sync_now(tenant, "mercadolibre").detail["orders"]["refused"] == 1
    ml.order_buy("MLU1", 2)  # a later order moves nothing past the refused one
    later = sync_now(tenant, "mercadolibre").detail["orders"]
    assert (later["created"], later["refused"]) == (1, 1)
    ml.orders[broken]["order_items"] = [
        {"item": {"id": "MLU1", "title": "x", "seller_sku": "ISODEC_EPS_100"}, "quantity": 1, "unit_price": 49.88}
    ]
    assert sync_now(tenant, "mercadolibre").detail["orders"]["created"] == 1  # mended there: made here
    assert Order.objects.filter(source="mercadolibre").count() == 2
