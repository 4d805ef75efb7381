"""Mercado Pago through its real SDK against a local server that speaks its API: a payment link
per order, made once; notifications stored raw, checked against their x-signature, each payment
applied to its order once, an unknown one kept and ignored."""

from __future__ import annotations

import hashlib
import hmac
import time

import pytest

from agents.orders.service import order_from_quote
from agents.payments.mercadopago import payment_link_create, payment_notified
from bmc.conversations.models import InboundPayload
from bmc.events.models import DomainEvent
from bmc.jobs.models import AgentTask
from bmc.payments.models import Payment
from tests.agents.orders.test_orders import quoted  # noqa: F401 (a fixture)
from tests.fakes import FakeMercadoPago

pytestmark = pytest.mark.django_db
SECRET = "mp-webhook-secret"


@pytest.fixture
def mp(settings):
    fake = FakeMercadoPago()
    settings.MERCADOPAGO_ACCESS_TOKEN = "APP_USR-test"
    settings.MERCADOPAGO_WEBHOOK_SECRET = SECRET
    settings.MERCADOPAGO_API_URL = fake.url
    yield fake
    fake.close()


@pytest.fixture
def order(quoted, tenant):  # noqa: F811
    return order_from_quote(tenant=tenant, quote_id=quoted.pk, source="api")


def signed(data_id: str, request_id: str = "req-1", secret: str = SECRET) -> dict[str, str]:
    """The headers Mercado Pago signs a notification with: HMAC-SHA256 of "id:..;request-id:..;ts:..;"."""
    ts = str(int(time.time()))
    manifest = f"id:{data_id};request-id:{request_id};ts:{ts};"
    digest = hmac.new(secret.encode(), manifest.encode(), hashlib.sha256).hexdigest()
    return {"HTTP_X_SIGNATURE": f"ts={ts},v1={digest}", "HTTP_X_REQUEST_ID": request_id}


def notify(client, data_id: str, **headers):
    body = {"action": "payment.created", "type": "payment", "data": {"id": data_id}}
    url = f"/api/v1/webhooks/mercadopago?data.id={data_id}&type=payment"
    return client.post(url, body, content_type="application/json", **headers)


def test_an_order_gets_one_payment_link(mp, order):
    first = payment_link_create(order=order)
    again = payment_link_create(order=order)
    assert first["payment_url"].endswith("pref_id=pref-1") and again == first
    (asked,) = mp.requests  # the second time it was already on the order
    assert asked["headers"]["Authorization"] == "Bearer APP_USR-test"
    assert asked["json"]["external_reference"] == f"order:{order.pk}"
    assert asked["json"]["items"][0]["unit_price"] == 1816.95 and asked["json"]["items"][0]["currency_id"] == "USD"
    order.refresh_from_db()
    assert (order.payment_url, order.payment_reference) == (first["payment_url"], "pref-1")


def test_no_link_while_mercado_pago_is_not_configured(order, settings):
    settings.MERCADOPAGO_ACCESS_TOKEN = ""
    assert payment_link_create(order=order) == {"payment_url": None}


def test_a_signed_notification_is_stored_then_read_and_applied_once(mp, order, client, tenant):
    mp.payments["9001"] = {
        "id": 9001,
        "status": "approved",
        "transaction_amount": 1816.95,
        "currency_id": "USD",
        "external_reference": f"order:{order.pk}",
    }
    for _ in range(2):  # delivered twice, as Mercado Pago does when unsure
        assert notify(client, "9001", **signed("9001")).status_code == 200
    stored = InboundPayload.objects.filter(source="mercadopago")
    assert stored.count() == 2 and '"data": {"id": "9001"}' in stored.first().body
    tasks = AgentTask.objects.filter(task_type="payment.notification")
    assert [t.payload["payment_id"] for t in tasks] == ["9001", "9001"]

    outcomes = [payment_notified(tenant=tenant, payment_id="9001")["outcome"] for _ in tasks]
    assert outcomes == ["applied", "duplicate"]
    (received,) = DomainEvent.objects.filter(type="payment.received")
    assert received.subject == f"order:{order.pk}"
    assert received.data | {"order_id": order.pk} == {
        "order_id": order.pk,
        "amount": "1816.95",
        "currency": "USD",
        "method": "mercadopago",
        "reference": "9001",
    }
    assert Payment.objects.get(external_id="9001").order == order


def test_a_bad_signature_is_401_and_kept_an_unknown_payment_kept_and_ignored(mp, order, client, tenant):
    refused = notify(client, "9002", **signed("9002", secret="not-the-secret"))
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "bad_signature"
    unsigned = notify(client, "9002")
    assert unsigned.status_code == 401
    kept = InboundPayload.objects.filter(source="mercadopago").order_by("id")
    assert [(p.outcome, p.error) for p in kept] == [
        ("rejected", "x-signature does not hold: SignatureMismatch"),
        ("rejected", "x-signature does not hold: MissingSignatureHeader"),
    ]
    assert not AgentTask.objects.filter(task_type="payment.notification").exists()

    assert payment_notified(tenant=tenant, payment_id="404404") == {
        "outcome": "ignored",
        "reason": "Mercado Pago knows no payment 404404",
    }
    mp.payments["9003"] = {
        "id": 9003,
        "status": "approved",
        "transaction_amount": 10,
        "currency_id": "USD",
        "external_reference": "someone-else",
    }
    assert payment_notified(tenant=tenant, payment_id="9003")["outcome"] == "ignored"
    mp.payments["9004"] = {
        "id": 9004,
        "status": "rejected",
        "transaction_amount": 1816.95,
        "currency_id": "USD",
        "external_reference": f"order:{order.pk}",
    }
    assert payment_notified(tenant=tenant, payment_id="9004") == {"outcome": "recorded", "status": "rejected"}
    assert not DomainEvent.objects.filter(type="payment.received").exists()
