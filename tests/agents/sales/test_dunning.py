"""The dunning agent over weeks of daily scans, and what the customer's own messages change."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from agents.outbound import outbound_send
from agents.sales.dunning import dunning_message_prepare, dunning_scan, invoice_mark_paid
from agents.sales.followup import quotes_expire, quotes_without_order
from bmc.conversations.models import Customer, Message
from bmc.quotes.models import Quote
from bmc.sales.models import DunningNotice, FollowUp, Invoice, PaymentPromise, StaffTask
from tests.agents.sales.test_followup import MVD, REQUEST, local, turn, write
from tests.api.test_whatsapp import FIXTURES

pytestmark = pytest.mark.django_db
PHONE = "+59894807926"


@pytest.fixture
def customer(tenant):
    return Customer.objects.create(tenant=tenant, phone=PHONE, name="Gabriel Pérez")


def invoice(customer, number="F-1001", due=date(2026, 11, 1), amount="2500.00", **fields) -> Invoice:
    return Invoice.objects.create(
        tenant=customer.tenant,
        customer=customer,
        number=number,
        amount=Decimal(amount),
        issue_date=due - timedelta(days=30),
        due_date=due,
        **fields,
    )


def daily_scans(first: date, last: date) -> list[tuple[str, str]]:
    """The crontab's run at 10:00 every day (the scan itself keeps Sundays quiet); each reminder
    written and sent as the agents would. Returns (date, kind) of every notice decided."""
    day = first
    while day <= last:
        at = datetime(day.year, day.month, day.day, 10, 0, tzinfo=MVD)
        with time_machine.travel(at, tick=False):
            for notice_id in dunning_scan(now=timezone.now()):
                prepared = dunning_message_prepare(
                    tenant_id=DunningNotice.objects.get(pk=notice_id).tenant_id, notice_id=notice_id
                )
                if prepared:
                    outbound_send(tenant_id=Message.objects.get(pk=prepared[0]).tenant_id, message_id=prepared[0])
        day += timedelta(days=1)
    return [(n.local_date.strftime("%a %d/%m"), n.kind) for n in DunningNotice.objects.order_by("local_date")]


def test_a_first_time_late_payer_gets_a_soft_reminder_then_firmer_ones_then_a_person(customer):
    invoice(customer)  # due Sunday 1 November
    notices = daily_scans(date(2026, 11, 2), date(2026, 12, 12))
    assert notices == [
        ("Mon 02/11", "soft"),  # one day late: a soft reminder, once
        ("Tue 17/11", "firm"),  # past 15 days
        ("Tue 24/11", "firm"),  # a week later
        ("Tue 01/12", "firm"),
        ("Wed 02/12", "staff"),  # past 30 days: a person takes it, no more automatic messages
    ]
    texts = list(Message.objects.filter(direction="out").order_by("created_at").values_list("text", flat=True))
    assert len(texts) == 4
    assert texts[0].startswith("Hola Gabriel, ¿cómo va? Te recordamos que la factura F-1001 por USD 2.500,00")
    assert "(16 días)" in texts[1] and "¿nos confirmás cuándo la pagás?" in texts[1]
    (task,) = StaffTask.objects.all()
    assert task.kind == "payment_overdue" and "F-1001" in task.title and "31 días" in task.detail


def test_the_scan_leaves_companies_with_nothing_to_collect_alone(customer, other_tenant):
    from bmc.sales.models import FollowUpPolicy

    invoice(customer)
    assert daily_scans(date(2026, 11, 2), date(2026, 11, 2)) == [("Mon 02/11", "soft")]
    assert not FollowUpPolicy.objects.filter(tenant=other_tenant).exists()  # no policy made up for it


def test_a_repeat_late_payer_gets_the_firm_reminder_first(customer):
    earlier = invoice(customer, number="F-0990", due=date(2026, 9, 1))
    invoice_mark_paid(invoice=earlier, when=datetime(2026, 9, 20, 12, 0, tzinfo=MVD))  # 19 days late
    invoice(customer)
    assert daily_scans(date(2026, 11, 2), date(2026, 11, 2)) == [("Mon 02/11", "firm")]


def test_a_promise_to_pay_holds_the_reminders_until_the_day_after(customer, tenant):
    invoice(customer)
    daily_scans(date(2026, 11, 2), date(2026, 11, 2))  # the soft reminder
    message = write(PHONE, "el viernes te deposito", local(2, 12, 0), tenant)
    result = turn(message.conversation_id, local(2, 12, 0))
    reply = Message.objects.get(pk=result.replies[0])
    assert reply.text == "Perfecto, anoto que el 06/11 pagás la factura F-1001 (USD 2.500,00). ¡Gracias por avisar!"
    (promise,) = PaymentPromise.objects.all()
    assert promise.promised_date == date(2026, 11, 6) and promise.message_id == message.pk
    assert daily_scans(date(2026, 11, 3), date(2026, 11, 7))[1:] == [("Sat 07/11", "promise_check")]
    check = Message.objects.filter(direction="out").order_by("-created_at").first()
    assert "quedamos en que el 06/11/2026 pagabas la factura F-1001" in check.text
    promise.refresh_from_db()
    assert promise.status == PaymentPromise.Status.BROKEN


def test_a_kept_promise_ends_the_reminders(customer, tenant):
    overdue = invoice(customer)
    message = write(PHONE, "pago manana sin falta", local(2, 12, 0), tenant)
    turn(message.conversation_id, local(2, 12, 0))
    assert daily_scans(date(2026, 11, 2), date(2026, 11, 3)) == []  # held until the promised day
    invoice_mark_paid(invoice=overdue)  # paid on the day promised
    assert daily_scans(date(2026, 11, 4), date(2026, 11, 20)) == []  # no check, no reminder
    assert PaymentPromise.objects.get().status == PaymentPromise.Status.KEPT


def test_a_payment_notice_with_a_receipt_goes_to_staff_and_stops_the_reminders(customer, tenant):
    overdue = invoice(customer)
    body = json.loads((FIXTURES / "document_message.json").read_text())
    document = body["entry"][0]["changes"][0]["value"]["messages"][0]
    from agents.conversations.inbound import inbound_message_accept

    with time_machine.travel(local(3, 9, 15), tick=False):
        stored = inbound_message_accept(
            tenant=tenant,
            channel="whatsapp",
            phone=PHONE,
            text=document["document"]["caption"],
            external_id=document["id"],
            sent_at=local(3, 9, 15),
            raw=document,
        ).message
    result = turn(stored.conversation_id, local(3, 9, 15))
    overdue.refresh_from_db()
    assert overdue.status == Invoice.Status.PAYMENT_CLAIMED and overdue.receipt_id == stored.pk
    (task,) = StaffTask.objects.filter(kind="payment_claimed")
    assert "F-1001" in task.title and "comprobante" in task.detail and task.invoice_id == overdue.pk
    assert "administración" in Message.objects.get(pk=result.replies[0]).text
    assert daily_scans(date(2026, 11, 3), date(2026, 11, 30)) == []


def test_opted_out_customers_get_nothing(customer):
    invoice(customer)
    Customer.objects.filter(pk=customer.pk).update(opted_out=True)
    assert daily_scans(date(2026, 11, 2), date(2026, 12, 12)) == []
    assert not Message.objects.filter(direction="out").exists()


def test_a_scan_run_twice_the_same_day_sends_once(customer):
    invoice(customer)
    with time_machine.travel(local(2, 10, 0), tick=False):
        first = dunning_scan(now=timezone.now())
        second = dunning_scan(now=timezone.now())
    assert len(first) == 1 and second == first  # decided once; listed again while it has no message
    assert dunning_message_prepare(tenant_id=customer.tenant_id, notice_id=first[0])[1] is True
    assert (
        dunning_message_prepare(tenant_id=customer.tenant_id, notice_id=first[0])[1] is False
    )  # the task ran twice: one message
    with time_machine.travel(local(2, 10, 30), tick=False):
        assert dunning_scan(now=timezone.now()) == []
    assert Message.objects.filter(direction="out").count() == 1 and DunningNotice.objects.count() == 1


def test_an_accepted_quote_without_an_order_becomes_a_staff_task_once(customer, tenant):
    from agents.tenants import system_bootstrap

    system_bootstrap()
    message = write(PHONE, REQUEST, local(20, 20, 30), tenant)
    (quote_id,) = turn(message.conversation_id, local(20, 20, 30)).quotes
    accepted = write(PHONE, "dale, avancemos con eso", local(21, 9, 0), tenant)
    turn(accepted.conversation_id, local(21, 9, 0))
    assert quotes_without_order(now=local(23, 9, 30)) == []  # two days: still time
    opened = quotes_without_order(now=local(24, 9, 30))
    assert len(opened) == 1 and quotes_without_order(now=local(25, 9, 30)) == opened
    task = StaffTask.objects.get(pk=opened[0])
    assert task.kind == "order_missing" and task.quote_id == quote_id and "aceptada sin pedido" in task.title


def test_a_quote_past_its_validity_expires_and_its_follow_ups_stop(customer, tenant):
    from agents.tenants import system_bootstrap

    system_bootstrap()
    message = write(PHONE, REQUEST, local(20, 20, 30), tenant)
    (quote_id,) = turn(message.conversation_id, local(20, 20, 30)).quotes
    assert FollowUp.objects.filter(quote_id=quote_id, status="scheduled").count() == 4
    assert quotes_expire(now=local(30, 23, 0)) == 0  # valid until Monday 30 inclusive
    assert quotes_expire(now=local(1, 0, 30, month=12)) == 1
    assert Quote.objects.get(pk=quote_id).status == Quote.Status.EXPIRED
    assert set(FollowUp.objects.filter(quote_id=quote_id).values_list("status", flat=True)) == {"cancelled"}


def test_asking_how_to_pay_is_not_a_payment(customer, tenant):
    overdue = invoice(customer)
    message = write(PHONE, "como les pago? tienen cuenta en el brou?", local(3, 9, 15), tenant)
    result = turn(message.conversation_id, local(3, 9, 15))
    overdue.refresh_from_db()
    assert overdue.status == Invoice.Status.OPEN and not StaffTask.objects.filter(kind="payment_claimed").exists()
    assert "administración" in Message.objects.get(pk=result.replies[0]).text


def test_a_promise_for_a_date_we_cannot_hold_them_to_asks_for_one(customer, tenant):
    invoice(customer)
    message = write(PHONE, "te pago el 15 de marzo del año que viene", local(3, 9, 15), tenant)
    result = turn(message.conversation_id, local(3, 9, 15))
    assert not PaymentPromise.objects.exists()
    assert "¿Para qué día tenés previsto pagar la factura F-1001" in Message.objects.get(pk=result.replies[0]).text


def test_a_reminder_decided_before_the_customer_said_they_paid_is_not_sent(customer, tenant):
    overdue = invoice(customer)
    with time_machine.travel(local(2, 10, 0), tick=False):
        (notice_id,) = dunning_scan(now=timezone.now())
        message_id, _ = dunning_message_prepare(
            tenant_id=DunningNotice.objects.get(pk=notice_id).tenant_id, notice_id=notice_id
        )
    message = write(PHONE, "ya transferi, te paso comprobante", local(2, 10, 1), tenant)
    turn(message.conversation_id, local(2, 10, 1))
    with time_machine.travel(local(2, 10, 2), tick=False):
        assert outbound_send(tenant_id=tenant.pk, message_id=message_id) == "cancelled"
    overdue.refresh_from_db()
    assert overdue.status == Invoice.Status.PAYMENT_CLAIMED
