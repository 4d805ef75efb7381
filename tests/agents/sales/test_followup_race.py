"""The races of follow-ups, with real concurrent database sessions: a customer's message arriving
while a follow-up is being sent, and two scans (two beats) at once."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from agents.outbound import outbound_send
from agents.sales.followup import followup_claim_due, followup_message_prepare, policy_for
from bmc.conversations.models import Message
from bmc.sales.models import FollowUp
from tests.agents.sales.test_followup import local, quote_copies, quote_sent, write
from tests.conftest import wait_for
from tests.fakes import FakeJsonServer

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def whatsapp(settings):
    """Meta's Cloud API, answering each send only when the test opens the gate."""
    gate = threading.Event()

    def respond(request):
        gate.wait(timeout=30)
        return 200, {"messages": [{"id": f"wamid.out.{time.monotonic_ns()}"}]}

    fake = FakeJsonServer(respond)
    fake.gate = gate
    settings.OUTBOUND_CHANNEL = "whatsapp"
    settings.WHATSAPP_TOKEN, settings.WHATSAPP_PHONE_NUMBER_ID = "token", "301822446011907"
    settings.WHATSAPP_API_BASE = fake.url
    yield fake
    gate.set()
    fake.close()


@pytest.fixture
def quoted(tenant, settings):
    settings.OUTBOUND_CHANNEL = "log"
    return quote_sent(tenant, anytime=True)[0]  # the sends happen now, whenever the tests run


def in_thread(fn) -> tuple[threading.Thread, dict]:
    """Run fn in its own thread with its own database session; its result or error in `box`."""
    box: dict = {}

    def run():
        try:
            box["result"] = fn()
        except Exception as error:  # surfaced by the test's assertions
            box["error"] = error
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, box


def prepared_step_one() -> int:
    (followup_id,) = followup_claim_due(now=local(21, 20, 30))
    message_id, _ = followup_message_prepare(
        tenant_id=FollowUp.objects.get(pk=followup_id).tenant_id, followup_id=followup_id, base_url="https://bmc.test"
    )
    return message_id


def test_a_message_that_arrives_during_the_send_is_stored_after_it(quoted, whatsapp, tenant):
    message_id = prepared_step_one()
    sender, sent = in_thread(lambda: outbound_send(tenant_id=tenant.pk, message_id=message_id))
    wait_for(lambda: whatsapp.requests)  # the follow-up is on the wire, its row held
    writer, written = in_thread(lambda: write("+59894807926", "hola, una consulta", timezone.now(), tenant))
    time.sleep(1.0)
    # the customer's message waits for the send: it is not stored while the follow-up goes out
    assert writer.is_alive() and not Message.objects.filter(text="hola, una consulta").exists()
    whatsapp.gate.set()
    sender.join(30), writer.join(30)
    assert sent == {"result": "sent"} and "error" not in written
    step_one = FollowUp.objects.get(quote=quoted, step=1)
    assert step_one.status == FollowUp.Status.SENT
    # stored after the send, and nothing follows it
    assert written["result"].created_at > step_one.message.sent_at
    assert set(FollowUp.objects.filter(quote=quoted, kind="step", step__gt=1).values_list("status", flat=True)) == {
        FollowUp.Status.CANCELLED
    }
    assert len(whatsapp.requests) == 1


def test_a_message_stored_before_the_send_withdraws_it(quoted, whatsapp, tenant):
    message_id = prepared_step_one()
    write("+59894807926", "hola, una consulta", timezone.now(), tenant)
    whatsapp.gate.set()
    assert outbound_send(tenant_id=tenant.pk, message_id=message_id) == "cancelled"
    assert whatsapp.requests == []
    step_one = FollowUp.objects.get(quote=quoted, step=1)
    assert step_one.status == FollowUp.Status.CANCELLED and step_one.reason == "el cliente escribió"
    assert Message.objects.get(pk=message_id).delivery_status == "cancelled"


def test_two_scans_at_once_claim_each_follow_up_once(quoted, tenant):
    """Two beats: the second scan skips the rows the first holds (PostgreSQL's SKIP LOCKED; SQLite
    makes it wait instead). No follow-up is claimed twice, none is left behind, and of one quote's
    steps due together only the latest goes even when the two scans hold different ones."""
    policy = policy_for(tenant_id=tenant.pk)
    policy.quiet_start = policy.quiet_end = None
    policy.quiet_weekdays = []
    policy.save()
    FollowUp.objects.all().delete()
    now = timezone.now()
    rows = [
        FollowUp(
            tenant=tenant,
            quote=quote,
            customer=quoted.customer,
            conversation_id=quoted.conversation_id,
            kind="step",
            step=1,
            due_at=now - timedelta(minutes=10) + timedelta(seconds=i),
        )
        for i, quote in enumerate(quote_copies(quoted, 30))
    ]
    # the original quote's steps 1 and 2 are both due: one scan will hold step 1, the other step 2
    rows.insert(
        0,
        FollowUp(
            tenant=tenant,
            quote=quoted,
            customer=quoted.customer,
            conversation_id=quoted.conversation_id,
            kind="step",
            step=1,
            due_at=now - timedelta(hours=1),
        ),
    )
    rows.append(
        FollowUp(
            tenant=tenant,
            quote=quoted,
            customer=quoted.customer,
            conversation_id=quoted.conversation_id,
            kind="step",
            step=2,
            due_at=now - timedelta(seconds=30),
        )
    )
    FollowUp.objects.bulk_create(rows)
    holding = threading.Event()

    def first_scan():
        with transaction.atomic():  # holds its claimed rows a while, as a slow scan would
            claimed = followup_claim_due(now=timezone.now(), limit=10)
            holding.set()
            time.sleep(1.0)
        return claimed

    first, first_box = in_thread(first_scan)
    holding.wait(10)
    second = followup_claim_due(now=timezone.now(), limit=100)
    first.join(30)
    claimed_first = set(first_box["result"])
    assert len(claimed_first) == 9 and not claimed_first & set(second)  # step 1 of the original was skipped
    queued = FollowUp.objects.filter(status="queued")
    assert set(queued.values_list("pk", flat=True)) == claimed_first | set(second)
    assert queued.count() == 31  # the 30 copies and the original's step 2
    assert list(FollowUp.objects.filter(quote=quoted).order_by("step").values_list("status", flat=True)) == [
        "skipped",
        "queued",
    ]
