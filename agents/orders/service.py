"""Orders from accepted quotes, and their life: payment asked for and received, delivery,
cancellation. Each change is written with its domain event (order.created, order.paid,
order.cancelled...) in one transaction; each message to the customer once per key."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

import holidays
from django.conf import settings
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext

from agents.events import event_emit
from agents.inventory.stock import Need, StockShort, stock_release, stock_reserve, stock_ship
from agents.outbound import outbound_reply_create, outbound_send_submit
from agents.quotes.document import money_uy
from agents.staff import admin_place, staff_task_open
from agents.workflows.engine import workflow_run_cancel, workflow_start
from bmc.conversations.models import Message
from bmc.core.models import Tenant, tenant_get
from bmc.events.models import DomainEvent
from bmc.orders.models import Order, OrderLine
from bmc.quotes.models import Quote
from bmc.sales.models import StaffTask
from bmc.workflows.models import WorkflowRun

# Business days from the order to a proposed delivery, by zone ("" is picked up at the plant).
DELIVERY_DAYS = {"": 1, "MONTEVIDEO": 2, "CANELONES": 3, "MALDONADO": 4, "INTERIOR": 5}
ORDERABLE = (Quote.Status.SENT, Quote.Status.ACCEPTED)


class OrderRefused(ValueError):
    """A quote that cannot become an order: `code` for machines, the message names why."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@lru_cache(maxsize=8)
def _holidays(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("UY", years=year, categories=("public", "bank"))


def business_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _holidays(day.year)


def delivery_date_propose(*, zone: str, ordered: date) -> date:
    """The zone's business days after the order day (Uruguay's holidays, Carnival and Tourism
    week included): a proposal staff confirm when they schedule the truck."""
    day, left = ordered, DELIVERY_DAYS.get(zone or "", DELIVERY_DAYS["INTERIOR"])
    while left:
        day += timedelta(days=1)
        left -= business_day(day)
    return day


def _quote_check(quote: Quote, *, today: date) -> None:
    """(Refusals said in the request's language: the admin's Spanish, the API's English.)"""
    if quote.status == Quote.Status.REJECTED:
        raise OrderRefused(
            "rejected", gettext("%(number)s was rejected; it cannot be ordered.") % {"number": quote.number}
        )
    if quote.status == Quote.Status.EXPIRED or quote.valid_until < today:
        raise OrderRefused(
            "expired",
            gettext("%(number)s expired on %(date)s; a new quote is needed.")
            % {"number": quote.number, "date": f"{quote.valid_until:%d/%m/%Y}"},
        )
    if quote.estimate:
        raise OrderRefused(
            "estimate",
            gettext("%(number)s is an estimate from an area; it needs the measures first.") % {"number": quote.number},
        )
    if quote.status not in ORDERABLE:
        raise OrderRefused(
            "not_sent",
            gettext("%(number)s is %(status)s; only a quote sent or accepted is ordered.")
            % {"number": quote.number, "status": quote.get_status_display().lower()},
        )


def _already_ordered(quote: Quote, order: Order) -> OrderRefused:
    return OrderRefused(
        "already_ordered",
        gettext("%(number)s is already order %(order)s.") % {"number": quote.number, "order": order.number},
    )


def order_from_quote(*, tenant: Tenant, quote_id: Any, source: str, existing_ok: bool = False) -> Order:
    """The quote's order: its lines at the quote's prices and catalog version, a delivery date
    proposed from its zone, the quote accepted if it was only sent. Refused naming why for a quote
    rejected, expired, an estimate, or (unless `existing_ok`, for a step that runs again) ordered
    already; NotInTenant for a quote of another company (or none)."""
    quote = tenant_get(Quote.objects.prefetch_related("lines"), tenant_id=tenant.pk, pk=quote_id)
    existing = Order.objects.filter(quote=quote).first()
    if existing is not None:
        if existing_ok:
            return existing
        raise _already_ordered(quote, existing)
    now = timezone.now()
    _quote_check(quote, today=timezone.localdate(now))
    try:
        with transaction.atomic():
            order = Order.objects.create(
                tenant=tenant,
                quote=quote,
                customer_id=quote.customer_id,
                conversation_id=quote.conversation_id,
                catalog_version_id=quote.catalog_version_id,
                source=source,
                currency=quote.currency,
                subtotal=quote.subtotal,
                iva=quote.iva,
                total=quote.total,
                zone=(quote.spec or {}).get("zone") or "",
                delivery_date=delivery_date_propose(
                    zone=(quote.spec or {}).get("zone") or "", ordered=timezone.localdate(now)
                ),
            )
            order_lines_copy(order=order, quote=quote)
            accepted = Quote.objects.filter(pk=quote.pk, status=Quote.Status.SENT).update(
                status=Quote.Status.ACCEPTED, decided_at=now
            )
            Quote.objects.filter(pk=quote.pk).update(ordered_at=now)
            if accepted:
                event_emit(tenant=tenant, type="quote.accepted", subject=f"quote:{quote.pk}", data=_quote_data(quote))
            event_emit(tenant=tenant, type="order.created", subject=f"order:{order.pk}", data=order_data(order))
    except IntegrityError:  # ordered a moment ago by a concurrent request or step
        existing = Order.objects.get(quote=quote)
        if existing_ok:
            return existing
        raise _already_ordered(quote, existing) from None
    return order


def order_lines_copy(*, order: Order, quote: Quote) -> None:
    """The order's lines: the quote's, as priced."""
    OrderLine.objects.bulk_create(
        OrderLine(
            order=order,
            position=line.position,
            sku=line.sku,
            description=line.description,
            unit=line.unit,
            quantity=line.quantity,
            unit_price=line.unit_price,
            amount=line.amount,
        )
        for line in quote.lines.all()
    )


def order_place(*, tenant: Tenant, quote_id: Any, source: str, trace_id: str = "") -> Order:
    """Staff or the API order a quote: the order now (refused naming why), and its workflow
    (stock, payment, delivery), the same one a customer's "dale" starts, once per quote."""
    order = order_from_quote(tenant=tenant, quote_id=quote_id, source=source)
    workflow_start(
        tenant=tenant,
        name="order_complete",
        input={"quote_id": order.quote_id, "source": source},
        trigger=f"quote:{order.quote_id}",
        trace_id=trace_id,
        requested_by=source,
    )
    return order


def _quote_data(quote: Quote) -> dict[str, Any]:
    return {
        "quote_id": quote.pk,
        "number": quote.number,
        "total": str(quote.total),
        "currency": quote.currency,
        "conversation_id": quote.conversation_id,
        "customer_id": quote.customer_id,
    }


def order_data(order: Order) -> dict[str, Any]:
    """What an order's events and its workflow steps carry."""
    return {
        "order_id": order.pk,
        "number": order.number,
        "subject": f"order:{order.pk}",
        "quote_id": order.quote_id,
        "status": order.status,
        "stock": order.stock,
        "total": str(order.total),
        "currency": order.currency,
        "customer_id": order.customer_id,
        "conversation_id": order.conversation_id,
        "delivery_date": order.delivery_date.isoformat() if order.delivery_date else None,
    }


def order_get(*, tenant_id: int, order_id: Any) -> Order:
    return tenant_get(Order.objects.select_related("tenant", "conversation"), tenant_id=tenant_id, pk=order_id)


def order_stock_reserve(*, order: Order) -> dict[str, Any]:
    """Stock for every line kept in stock, all or nothing. Short: nothing reserved, and staff get
    a task saying what is missing (the order waits for them, never below zero). A cancelled
    order reserves nothing."""
    order.refresh_from_db()
    if order.status == Order.Status.CANCELLED:
        return {"stock": order.stock, "short": [], "title": "", "cancelled": True}
    needs = [Need(sku=line.sku, quantity=line.quantity) for line in order.lines.all()]
    try:
        stock_reserve(tenant=order.tenant, reference=f"order:{order.pk}", needs=needs, zone=order.zone)
    except StockShort as short:
        Order.objects.filter(pk=order.pk, stock__in=(Order.Stock.PENDING, Order.Stock.SHORT)).update(
            stock=Order.Stock.SHORT
        )
        missing = ", ".join(
            gettext("%(sku)s: %(wanted)s wanted, %(available)s available") % line for line in short.short
        )
        title = (
            gettext("Not enough stock for %(number)s: %(missing)s") % {"number": order.number, "missing": missing}
        )[:200]
        return {"stock": Order.Stock.SHORT, "short": short.short, "title": title}
    Order.objects.filter(pk=order.pk, stock__in=(Order.Stock.PENDING, Order.Stock.SHORT)).update(
        stock=Order.Stock.RESERVED
    )
    return {"stock": Order.Stock.RESERVED, "short": [], "title": ""}


def _say(order: Order, *, key: str, template: str, **context: Any) -> int | None:
    """A message to the order's customer, written once per key and handed to the outbound agent;
    None when the order came with no conversation (staff reach that customer)."""
    if order.conversation is None:
        return None
    context = {"number": order.number, "total": f"{order.currency} {money_uy(order.total)}", **context}
    text = render_to_string(f"{template}.txt", context).removesuffix("\n")
    with transaction.atomic():
        message = outbound_reply_create(
            conversation=order.conversation, text=text, idempotency_key=f"order-{order.pk}-{key}"
        )
        if message.delivery_status == message.DeliveryStatus.PENDING:
            outbound_send_submit(tenant=order.tenant, message_ids=[message.pk], trace_id=None, requested_by="order")
    return message.pk


def order_payment_request(*, order: Order) -> dict[str, Any]:
    """The customer is told the order, its total and how to pay (the payment link when there is
    one; the bank transfer otherwise). Not for an order no longer waiting for its payment."""
    order.refresh_from_db()
    if order.status != Order.Status.PENDING_PAYMENT:
        return {"message_id": None, "status": order.status}
    message_id = _say(
        order,
        key="payment",
        template="orders/payment_request",
        payment_url=order.payment_url,
        bank=settings.BANK_TRANSFER_DETAILS,
        delivery=f"{order.delivery_date:%d/%m/%Y}" if order.delivery_date else "",
    )
    return {"message_id": message_id, "payment_url": order.payment_url}


def order_payment_remind(*, order: Order) -> dict[str, Any]:
    """The order still waits for its payment: one reminder."""
    if order.status != Order.Status.PENDING_PAYMENT:
        return {"message_id": None, "status": order.status}
    return {
        "message_id": _say(order, key="reminder", template="orders/payment_reminder", payment_url=order.payment_url)
    }


def order_payment_last(*, order: Order) -> dict[str, Any] | None:
    """The last payment.received for the order: {event_id, amount, currency, reference...}."""
    event = (
        DomainEvent.objects.filter(tenant_id=order.tenant_id, type="payment.received", subject=f"order:{order.pk}")
        .order_by("-id")
        .first()
    )
    return {**event.data, "event_id": event.pk} if event is not None else None


def order_payment_record(*, order: Order, amount: Decimal, currency: str, method: str, reference: str) -> DomainEvent:
    """A payment received for the order (a transfer staff confirmed; a notification of the payment
    provider): the event its workflow waits for, which then checks it against the total."""
    return event_emit(
        tenant=order.tenant,
        type="payment.received",
        subject=f"order:{order.pk}",
        data={
            "order_id": order.pk,
            "amount": str(amount),
            "currency": currency,
            "method": method,
            "reference": reference,
        },
    )


def order_awaiting_payment(*, customer_id: int | None, order_ref: str | None) -> Order | None:
    """The customer's order a payment message is about: the one they name (PED-000123, or its
    number), else their latest waiting for its payment."""
    orders = Order.objects.filter(customer_id=customer_id, status=Order.Status.PENDING_PAYMENT).order_by("-created_at")
    if order_ref:
        digits = re.sub(r"\D", "", order_ref)
        named = [o for o in orders if digits and int(digits) == o.pk]
        if named:
            return named[0]
    return orders.first()


def order_payment_claimed(*, order_id: int, receipt: Message | None, message_id: int | None) -> StaffTask:
    """The customer says they paid by transfer: staff check the bank (the receipt, when sent, is
    linked) and confirm it in the admin; the order's workflow takes it from there."""
    order = Order.objects.select_related("customer").get(pk=order_id)
    customer = order.customer
    who = (customer.name or customer.phone) if customer else gettext("no customer")
    return staff_task_open(
        tenant_id=order.tenant_id,
        kind=StaffTask.Kind.PAYMENT_CLAIMED,
        dedupe_key=f"order-claimed-{order.pk}-{message_id or ''}",
        title=gettext("Confirm the bank transfer for order %(number)s (%(who)s)")
        % {"number": order.number, "who": who},
        detail=" ".join(
            (
                gettext("The customer says they transferred %(amount)s.")
                % {"amount": f"{order.currency} {money_uy(order.total)}"},
                gettext("They sent the receipt (linked message).")
                if receipt
                else gettext("They have not sent a receipt yet."),
                gettext("Confirm it in %(place)s with the action for a payment received by bank transfer.")
                % {"place": admin_place(Order)},
            )
        ),
        customer_id=order.customer_id,
        conversation_id=order.conversation_id,
        quote_id=order.quote_id,
        message_id=(receipt.pk if receipt else message_id),
    )


def order_mark_paid(*, order: Order, amount: Decimal, currency: str, reference: str) -> dict[str, Any]:
    """A payment received for the order: the order is paid only when it covers the total in the
    order's currency; short or foreign, staff look at it and the order stays as it was. A payment
    for an order cancelled meanwhile is never taken as paying it: staff return it."""
    order.refresh_from_db()
    if order.status == Order.Status.CANCELLED:
        task = staff_task_open(
            tenant_id=order.tenant_id,
            kind=StaffTask.Kind.PAYMENT_CLAIMED,
            dedupe_key=f"order-refund:{order.pk}:{reference}"[:120],
            title=gettext("Payment of %(amount)s for %(number)s, which is cancelled: give it back")
            % {"amount": f"{currency} {amount}", "number": order.number},
            customer_id=order.customer_id,
            conversation_id=order.conversation_id,
        )
        return {"paid": False, "staff_task_id": task.pk, "reason": "the order is cancelled"}
    if currency != order.currency or amount < order.total:
        task = staff_task_open(
            tenant_id=order.tenant_id,
            kind=StaffTask.Kind.PAYMENT_CLAIMED,
            dedupe_key=f"order-payment-check:{order.pk}:{reference}"[:120],
            title=gettext("Payment of %(amount)s for %(number)s (%(total)s): check it")
            % {"amount": f"{currency} {amount}", "number": order.number, "total": f"{order.currency} {order.total}"},
            customer_id=order.customer_id,
            conversation_id=order.conversation_id,
        )
        return {"paid": False, "staff_task_id": task.pk}
    with transaction.atomic():
        if Order.objects.filter(pk=order.pk, status=Order.Status.PENDING_PAYMENT).update(
            status=Order.Status.PAID, paid_at=timezone.now()
        ):
            order.refresh_from_db()
            event_emit(tenant=order.tenant, type="order.paid", subject=f"order:{order.pk}", data=order_data(order))
    return {"paid": True}  # paid now, or by this same payment before (a step run again)


def order_paid_follow(*, order: Order) -> dict[str, Any]:
    """A paid order: the customer thanked, and staff asked to schedule the truck."""
    message_id = _say(order, key="thanks", template="orders/paid_thanks")
    task = staff_task_open(
        tenant_id=order.tenant_id,
        kind=StaffTask.Kind.SCHEDULE_DELIVERY,
        dedupe_key=f"order-schedule:{order.pk}",
        title=gettext("Schedule the delivery of %(number)s (proposed: %(date)s)")
        % {"number": order.number, "date": f"{order.delivery_date:%d/%m/%Y}"}
        if order.delivery_date
        else gettext("Schedule the delivery of %(number)s") % {"number": order.number},
        customer_id=order.customer_id,
        conversation_id=order.conversation_id,
        quote_id=order.quote_id,
    )
    return {"message_id": message_id, "staff_task_id": task.pk}


def order_cancel(*, order: Order, reason: str, workflow_too: bool = True) -> bool:
    """Cancel an order not yet delivered: its reserved stock goes back, and its workflow stops (no
    payment asked for or awaited; `workflow_too=False` when that workflow is the one cancelling it).
    False when it could not be."""
    with transaction.atomic():
        if (
            not Order.objects.filter(pk=order.pk)
            .exclude(status__in=(Order.Status.DELIVERED, Order.Status.CANCELLED))
            .update(status=Order.Status.CANCELLED, cancelled_at=timezone.now(), cancel_reason=reason[:300])
        ):
            return False
        if stock_release(tenant=order.tenant, reference=f"order:{order.pk}"):
            Order.objects.filter(pk=order.pk).update(stock=Order.Stock.RELEASED)
        order.refresh_from_db()
        event_emit(tenant=order.tenant, type="order.cancelled", subject=f"order:{order.pk}", data=order_data(order))
        run = WorkflowRun.objects.filter(tenant_id=order.tenant_id, trigger=f"quote:{order.quote_id}").first()
        if workflow_too and run is not None:
            workflow_run_cancel(
                run=run, reason=gettext("%(number)s cancelled: %(reason)s") % {"number": order.number, "reason": reason}
            )
    return True


def order_schedule(*, order: Order, day: date) -> bool:
    with transaction.atomic():
        if not Order.objects.filter(pk=order.pk, status__in=(Order.Status.PAID, Order.Status.SCHEDULED)).update(
            status=Order.Status.SCHEDULED, delivery_date=day
        ):
            return False
        order.refresh_from_db()
        event_emit(tenant=order.tenant, type="order.scheduled", subject=f"order:{order.pk}", data=order_data(order))
    return True


def order_deliver(*, order: Order, when: datetime | None = None) -> bool:
    """Delivered: what was reserved for it leaves the warehouse."""
    with transaction.atomic():
        if not Order.objects.filter(pk=order.pk, status__in=(Order.Status.PAID, Order.Status.SCHEDULED)).update(
            status=Order.Status.DELIVERED, delivered_at=when or timezone.now()
        ):
            return False
        if stock_ship(tenant=order.tenant, reference=f"order:{order.pk}"):
            Order.objects.filter(pk=order.pk).update(stock=Order.Stock.SHIPPED)
        order.refresh_from_db()
        event_emit(tenant=order.tenant, type="order.delivered", subject=f"order:{order.pk}", data=order_data(order))
    return True
