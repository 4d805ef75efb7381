"""Domain events as an outbox: written with the change that caused them, delivered to each
subscription once, signed, retried when retrying can help."""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from agents.events import (
    TransientDeliveryError,
    event_deliver,
    event_emit,
    events_publish,
    events_unpublished_submit,
)
from agents.tenants import system_bootstrap
from bmc.conversations.models import Conversation, Customer
from bmc.core.models import NotInTenant
from bmc.events.models import DomainEvent, EventDelivery, EventSubscription
from bmc.jobs.models import AgentTask
from tests.agents.conversations.dialogue import say
from tests.fakes import FakeJsonServer

pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver():
    fake = FakeJsonServer(lambda request: (200, {"ok": True}))
    yield fake
    fake.close()


def test_an_event_is_written_with_its_change_or_not_at_all(tenant, django_capture_on_commit_callbacks):
    with pytest.raises(RuntimeError), transaction.atomic():
        event_emit(tenant=tenant, type="quote.accepted", subject="quote:1", data={"quote_id": 1})
        raise RuntimeError("the change failed")
    assert not DomainEvent.objects.exists() and not AgentTask.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        event = event_emit(tenant=tenant, type="quote.accepted", subject="quote:2", data={"quote_id": 2})
    publish = AgentTask.objects.get(task_type="events.publish")
    assert publish.payload == {"event_id": event.pk} and publish.tenant_id == tenant.pk


def test_publishing_twice_delivers_once_to_each_subscription_of_the_type(
    tenant, other_tenant, receiver, django_capture_on_commit_callbacks
):
    wanted = EventSubscription.objects.create(tenant=tenant, event_type="quote.accepted", url=receiver.url, secret="s1")
    every = EventSubscription.objects.create(tenant=tenant, event_type="*", url=receiver.url, secret="s2")
    EventSubscription.objects.create(tenant=tenant, event_type="order.created", url=receiver.url, secret="s3")
    EventSubscription.objects.create(tenant=tenant, event_type="*", url=receiver.url, secret="s4", active=False)
    EventSubscription.objects.create(tenant=other_tenant, event_type="*", url=receiver.url, secret="s5")
    event = DomainEvent.objects.create(tenant=tenant, type="quote.accepted", subject="quote:7")

    with django_capture_on_commit_callbacks(execute=True):
        first = events_publish(tenant_id=tenant.pk, event_id=event.pk)
    with django_capture_on_commit_callbacks(execute=True):
        again = events_publish(tenant_id=tenant.pk, event_id=event.pk)

    deliveries = EventDelivery.objects.filter(event=event)
    assert {d.subscription_id for d in deliveries} == {wanted.pk, every.pk}
    assert sorted(first["deliveries"]) == sorted(d.pk for d in deliveries)
    # still pending: handed on again (a delivery is made once whoever hands it on), not duplicated
    assert sorted(again["deliveries"]) == sorted(first["deliveries"])
    assert deliveries.count() == 2
    event.refresh_from_db()
    assert event.published_at is not None


def test_a_delivery_is_signed_and_made_once(tenant, receiver):
    subscription = EventSubscription.objects.create(tenant=tenant, event_type="*", url=receiver.url, secret="shh")
    event = DomainEvent.objects.create(
        tenant=tenant, type="quote.accepted", subject="quote:9", data={"total": "1816.95"}
    )
    delivery = EventDelivery.objects.create(tenant=tenant, subscription=subscription, event=event)

    assert event_deliver(tenant_id=tenant.pk, delivery_id=delivery.pk) == "delivered"
    assert event_deliver(tenant_id=tenant.pk, delivery_id=delivery.pk) == "delivered"

    (request,) = receiver.requests
    expected = "sha256=" + hmac.new(b"shh", request["raw"], hashlib.sha256).hexdigest()
    assert request["headers"]["X-BMC-Signature"] == expected
    assert request["headers"]["X-BMC-Event-Id"] == str(event.pk)
    assert request["json"] == {
        "id": event.pk,
        "type": "quote.accepted",
        "subject": "quote:9",
        "data": {"total": "1816.95"},
        "created_at": event.created_at.isoformat(),
    }


def test_a_receiver_that_fails_is_retried_and_one_that_refuses_is_not(tenant):
    answers = iter([(503, {}), (200, {})])
    flaky = FakeJsonServer(lambda request: next(answers))
    refusing = FakeJsonServer(lambda request: (400, {"error": "unknown event"}))
    try:
        event = DomainEvent.objects.create(tenant=tenant, type="quote.accepted", subject="quote:3")
        retried = EventDelivery.objects.create(
            tenant=tenant,
            event=event,
            subscription=EventSubscription.objects.create(tenant=tenant, event_type="*", url=flaky.url, secret="a"),
        )
        refused = EventDelivery.objects.create(
            tenant=tenant,
            event=event,
            subscription=EventSubscription.objects.create(tenant=tenant, event_type="*", url=refusing.url, secret="b"),
        )
        with pytest.raises(TransientDeliveryError):
            event_deliver(tenant_id=tenant.pk, delivery_id=retried.pk)
        retried.refresh_from_db()
        assert (retried.status, retried.attempts) == ("pending", 1)
        assert retried.last_error == f"{flaky.url} answered 503"
        assert event_deliver(tenant_id=tenant.pk, delivery_id=retried.pk) == "delivered"

        assert event_deliver(tenant_id=tenant.pk, delivery_id=refused.pk) == "failed"
        refused.refresh_from_db()
        assert refused.status == "failed" and "400" in refused.last_error
    finally:
        flaky.close()
        refusing.close()


def test_another_tenants_delivery_is_not_made(tenant, other_tenant, receiver):
    subscription = EventSubscription.objects.create(tenant=tenant, event_type="*", url=receiver.url, secret="x")
    event = DomainEvent.objects.create(tenant=tenant, type="quote.accepted", subject="quote:4")
    delivery = EventDelivery.objects.create(tenant=tenant, subscription=subscription, event=event)
    with pytest.raises(NotInTenant):
        event_deliver(tenant_id=other_tenant.pk, delivery_id=delivery.pk)
    assert receiver.requests == []


def test_a_quote_the_customer_accepts_is_an_event(tenant):
    system_bootstrap()
    customer = Customer.objects.create(tenant=tenant, phone="+59899111333", name="Ana Gomez")
    conversation = Conversation.objects.create(tenant=tenant, customer=customer)
    say(conversation, "cuanto sale isodec 100 para un techo de 6 x 4,48 con flete a montevideo")
    assert not DomainEvent.objects.exists()  # a quote sent is not yet a decision
    say(conversation, "dale, avancemos")

    (event,) = DomainEvent.objects.all()
    quote = conversation.quotes.get()
    assert (event.type, event.subject) == ("quote.accepted", f"quote:{quote.pk}")
    assert event.data["number"] == quote.number and event.data["total"] == "1816.95"


def test_an_event_whose_hand_off_was_lost_is_published_by_the_scan(tenant):
    lost = DomainEvent.objects.create(tenant=tenant, type="quote.accepted", subject="quote:11")
    just_written = DomainEvent.objects.create(tenant=tenant, type="quote.accepted", subject="quote:12")
    published = DomainEvent.objects.create(tenant=tenant, type="quote.accepted", subject="quote:13")
    DomainEvent.objects.filter(pk__in=[lost.pk, published.pk]).update(created_at=timezone.now() - timedelta(minutes=5))
    DomainEvent.objects.filter(pk=published.pk).update(published_at=timezone.now())

    assert events_unpublished_submit() == {"submitted": [lost.pk]}
    # its publish now waits in the queue: the next scan does not hand it on twice
    assert events_unpublished_submit() == {"submitted": []}
    task = AgentTask.objects.get(task_type="events.publish")
    assert task.payload == {"event_id": lost.pk} and task.tenant_id == tenant.pk
    assert just_written.pk not in {t.payload["event_id"] for t in AgentTask.objects.filter(task_type="events.publish")}


def test_a_consumer_replays_from_the_last_event_it_saw(tenant, other_tenant, api):
    emitted = [
        DomainEvent.objects.create(tenant=tenant, type=kind, subject=f"quote:{n}", data={"n": n})
        for n, kind in enumerate(["quote.accepted", "quote.rejected", "quote.accepted", "quote.accepted"])
    ]
    DomainEvent.objects.create(tenant=other_tenant, type="quote.accepted", subject="quote:99")

    everything = api.get("/api/v1/events").json()
    assert [e["id"] for e in everything["events"]] == [e.pk for e in emitted]
    assert everything["events"][0]["data"] == {"n": 0} and everything["has_more"] is False

    first = api.get("/api/v1/events", {"after": emitted[0].pk, "type": "quote.accepted", "limit": 1}).json()
    assert [e["id"] for e in first["events"]] == [emitted[2].pk] and first["has_more"] is True
    rest = api.get("/api/v1/events", {"after": first["next_after"], "type": "quote.accepted"}).json()
    assert [e["id"] for e in rest["events"]] == [emitted[3].pk] and rest["has_more"] is False
    caught_up = api.get("/api/v1/events", {"after": rest["next_after"]}).json()
    assert caught_up == {"events": [], "next_after": emitted[3].pk, "has_more": False}

    refused = api.get("/api/v1/events", {"after": "the last one", "limit": 5000})
    assert refused.status_code == 400
    assert set(refused.json()["error"]["fields"]) == {"after", "limit"}
