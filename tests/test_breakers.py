"""The circuit breakers around the services outside, against local servers that count what reaches
them: the model stops being asked after repeated failures and the rules answer at once, a trial
after the wait closes it again; a WhatsApp send is held back and its task told when to come again,
while WhatsApp's refusals open nothing; Mercado Pago likewise; /health/detailed and the operations
home show an open breaker, and operations close it."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from celery import signals
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from agents.nlu.model import message_reword, message_understand
from agents.outbound import TransientSendError, outbound_reply_create, outbound_send, outbound_send_submit
from agents.payments.mercadopago import ProviderUnavailable, payment_notified
from agents.tenants import system_bootstrap
from bmc.breakers import WHATSAPP, BreakerOpen, breaker_guard, breaker_states
from bmc.datasync.models import SyncSource
from bmc.health import health_detailed
from tasks.outbound import send_message
from tests.agents.nlu.test_model import MAIN, FakeOpenAI
from tests.agents.test_outbound import conversation, provider  # noqa: F401 (fixtures)
from tests.conftest import queues_purge
from tests.fakes import FakeJsonServer

pytestmark = pytest.mark.django_db
SOUND = {"intent": "quote_request", "confidence": 0.9, "entities": {"family": "ISODEC_EPS"}}


@pytest.fixture(autouse=True)
def breaker_settings(settings):
    settings.BREAKER_FAILURES = 3
    settings.BREAKER_RESET_SECONDS = 1


@pytest.fixture
def model(settings):
    fake = FakeOpenAI()
    settings.OPENAI_API_KEY, settings.OPENAI_BASE_URL, settings.OPENAI_MODEL = "sk-test", fake.url + "/v1", "m"
    settings.OPENAI_TIMEOUT = 0.3
    yield fake
    fake.close()


def _timed_understand() -> tuple[dict, float]:
    started = time.monotonic()
    result = message_understand(text=MAIN)
    return result, time.monotonic() - started


def test_a_hanging_model_is_left_alone_after_repeated_timeouts_and_a_trial_closes_it(model):
    model.delay = 0.6  # past OPENAI_TIMEOUT: every call times out
    for _ in range(3):
        result, took = _timed_understand()
        assert result["source"] == "rules" and took >= 0.3
    result, took = _timed_understand()
    assert result["source"] == "rules" and result["intent"] == "quote_request"
    assert took < 0.25 and len(model.requests) == 3  # the model was not asked, no timeout waited
    assert message_reword(text="Hola, tu cotización COT-000001") == "Hola, tu cotización COT-000001"
    assert len(model.requests) == 3
    assert breaker_states()["model"]["state"] == "open"

    time.sleep(1.05)
    assert breaker_states()["model"]["state"] == "half_open"
    model.delay, model.answer = 0.0, SOUND
    assert message_understand(text=MAIN)["source"] == "model"  # the trial
    assert breaker_states()["model"] == {"state": "closed", "failures": 0}
    assert message_understand(text=MAIN)["source"] == "model" and len(model.requests) == 5


def test_a_failed_trial_opens_the_breaker_again(model):
    model.status = 500
    for _ in range(4):
        assert message_understand(text=MAIN)["source"] == "rules"
    assert len(model.requests) == 3
    time.sleep(1.05)
    assert message_understand(text=MAIN)["source"] == "rules"  # the trial, answered 500
    assert message_understand(text=MAIN)["source"] == "rules"
    assert len(model.requests) == 4
    assert breaker_states()["model"]["state"] == "open"


def test_model_answers_outside_the_schema_are_not_the_model_failing(model):
    model.answer = "not json at all"
    for _ in range(5):
        assert message_understand(text=MAIN)["source"] == "rules"
    assert len(model.requests) == 5 and breaker_states()["model"]["state"] == "closed"


@pytest.fixture
def whatsapp(settings, provider):  # noqa: F811
    settings.OUTBOUND_CHANNEL = "whatsapp"
    settings.WHATSAPP_API_BASE = provider.url
    settings.WHATSAPP_TOKEN, settings.WHATSAPP_PHONE_NUMBER_ID = "tok", "1"
    return provider


def test_a_send_is_held_back_while_whatsapp_fails_and_its_task_comes_again_after_the_wait(whatsapp, conversation):  # noqa: F811
    message = outbound_reply_create(conversation=conversation, text="Hola")
    whatsapp.responses = [(503, {"error": {"message": "busy"}})] * 3
    for _ in range(3):
        with pytest.raises(TransientSendError) as failed:
            outbound_send(tenant_id=message.tenant_id, message_id=message.pk)
        assert failed.value.retry_after is None  # tried, answered 503: the usual backoff
    with pytest.raises(TransientSendError) as held:
        outbound_send(tenant_id=message.tenant_id, message_id=message.pk)
    assert 0 < held.value.retry_after <= 1 and len(whatsapp.requests) == 3
    message.refresh_from_db()
    assert (message.delivery_status, message.send_attempts) == ("pending", 3)  # not sent, not an attempt

    time.sleep(1.05)
    assert outbound_send(tenant_id=message.tenant_id, message_id=message.pk) == "sent"  # the trial
    assert breaker_states()[WHATSAPP]["state"] == "closed"
    message.refresh_from_db()
    assert (message.external_id, message.send_attempts) == ("wamid.4", 4)


@pytest.mark.django_db(transaction=True)
def test_the_send_task_comes_again_when_the_breaker_lets_a_trial_through(whatsapp, conversation):  # noqa: F811
    _trip(WHATSAPP)
    message = outbound_reply_create(conversation=conversation, text="Hola")
    (task,) = outbound_send_submit(
        tenant=conversation.tenant, message_ids=[message.pk], trace_id="t", requested_by="test"
    )
    queues_purge(("outbound",))  # its message, published on commit: run here instead
    waits: list[float] = []

    def retried(sender, reason, **kwargs):
        waits.append(reason.when)

    signals.task_retry.connect(retried, sender=send_message)
    try:
        send_message.apply(args=[str(task.task_id)], task_id=str(task.task_id))
    finally:
        signals.task_retry.disconnect(retried, sender=send_message)
    # each retry told to wait until the trial (plus the jitter); run eagerly, they came at once
    assert waits and all(0 < wait <= 1 + 5 for wait in waits)
    assert whatsapp.requests == []
    message.refresh_from_db()
    assert (message.delivery_status, message.send_attempts) == ("pending", 0)  # for the reaper to send again


def test_whatsapp_refusing_our_messages_opens_nothing(whatsapp, conversation):  # noqa: F811
    whatsapp.responses = [(400, {"error": {"code": 131026, "message": "undeliverable"}})] * 5
    for _ in range(5):
        message = outbound_reply_create(conversation=conversation, text="Hola")
        assert outbound_send(tenant_id=message.tenant_id, message_id=message.pk) == "failed"
    assert len(whatsapp.requests) == 5
    assert breaker_states()[WHATSAPP] == {"state": "closed", "failures": 0}


def test_mercado_pago_not_answering_is_not_asked_and_fails_transiently(settings, tenant):
    fake = FakeJsonServer(lambda request: (502, {"message": "bad gateway"}))
    settings.MERCADOPAGO_ACCESS_TOKEN, settings.MERCADOPAGO_API_URL = "APP_USR-test", fake.url
    try:
        for _ in range(3):
            with pytest.raises(ProviderUnavailable) as failed:
                payment_notified(tenant=tenant, payment_id="9001")
            assert failed.value.retry_after is None
        with pytest.raises(ProviderUnavailable) as held:
            payment_notified(tenant=tenant, payment_id="9001")
        assert held.value.retry_after > 0 and len(fake.requests) == 3
    finally:
        fake.close()


def _trip(name: str, times: int = 3) -> None:
    """The service fails `times` times in a row."""
    for _ in range(times):
        with pytest.raises(ConnectionError), breaker_guard(name, unwell=lambda error: True):
            raise ConnectionError("no answer")


def test_health_names_an_open_breaker_without_failing_for_it(settings, tenant):
    settings.HEALTH_PING_TIMEOUT = 0.2
    _trip(WHATSAPP)
    SyncSource.objects.create(
        tenant=tenant, source="sheets", failures=3, open_until=timezone.now() + timedelta(minutes=5)
    )
    report = health_detailed()
    assert report["degraded"] == ["breaker:whatsapp", "breaker:sync:bmc:sheets"]
    check = report["checks"]["breakers"]
    assert check["ok"] is True and "breakers" not in report["down"]
    assert not any(name.startswith("breaker") for name in report["down"])
    whatsapp = check["states"]["whatsapp"]
    assert whatsapp["state"] == "open" and whatsapp["failures"] == 3 and "retry_at" in whatsapp
    assert "last_error" not in whatsapp  # the page needs no key
    assert check["states"]["model"] == {"state": "closed", "failures": 0}
    assert check["states"]["sync:bmc:sheets"]["state"] == "open"


@pytest.fixture
def operator(client, tenant):
    system_bootstrap()
    user = get_user_model().objects.create_user("ops", password="x", is_staff=True)
    user.groups.add(Group.objects.get(name="operations"))
    client.force_login(user)
    return user


def test_operations_see_the_breakers_and_close_one(client, operator, other_tenant):
    _trip(WHATSAPP)
    SyncSource.objects.create(
        tenant=other_tenant, source="sheets", failures=3, open_until=timezone.now() + timedelta(minutes=5)
    )
    page = client.get("/admin/operaciones/", HTTP_ACCEPT_LANGUAGE="es")
    html = page.content.decode()
    assert 'data-breaker="whatsapp" data-state="open"' in html
    assert "abierto: no se llama" in html and "Circuitos de los servicios externos" in html
    assert 'data-breaker="model" data-state="closed"' in html
    assert "sync:other" not in html  # another company's sources are its own operators'

    answer = client.post("/admin/operaciones/circuitos/cerrar/", {"name": "whatsapp"}, HTTP_ACCEPT_LANGUAGE="es")
    assert answer.status_code == 302
    assert breaker_states()[WHATSAPP] == {"state": "closed", "failures": 0}
    with breaker_guard(WHATSAPP, unwell=lambda error: True):
        pass  # called again at once
    assert "Circuito whatsapp cerrado" in client.get("/admin/operaciones/", HTTP_ACCEPT_LANGUAGE="es").content.decode()

    client.post("/admin/operaciones/circuitos/cerrar/", {"name": "sync:other:sheets"})
    assert SyncSource.objects.get(tenant=other_tenant).circuit_open  # not theirs to close


def test_only_operations_close_a_breaker(client, tenant):
    system_bootstrap()
    seller = get_user_model().objects.create_user("lucia", password="x", is_staff=True)
    seller.groups.add(Group.objects.get(name="sales"))
    client.force_login(seller)
    _trip(WHATSAPP)
    assert client.post("/admin/operaciones/circuitos/cerrar/", {"name": "whatsapp"}).status_code == 403
    with pytest.raises(BreakerOpen):
        with breaker_guard(WHATSAPP, unwell=lambda error: True):
            pass
