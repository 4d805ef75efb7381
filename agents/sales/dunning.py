"""The dunning agent: overdue invoices are chased the way a good collector would.

A daily scan (`dunning_scan`) looks at every open invoice past its due date and decides, from the
customer's own history, one of:
- nothing: paid or claimed paid, the customer opted out, a promise to pay not yet due, or a
  reminder already went in the last `dunning_repeat_days`;
- `promise_check`: the customer promised a date and it passed unpaid (checked the day after);
- `staff`: more than `dunning_staff_after_days` overdue: a person takes it, once; no more
  automatic messages;
- `firm`: more than `dunning_firm_after_days` overdue, or a customer who paid late before;
- `soft`: the first reminder, once.
Each decision is a DunningNotice row (one per invoice per local day), written before anything is
sent, so a scan that runs twice sends nothing twice. The customer's own messages feed it:
`promise_to_pay` records a PaymentPromise, `payment_notice` marks the invoice "payment claimed"
for staff to confirm, with the receipt attached when one came.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext, ngettext

from agents.nlu.model import message_reword
from agents.outbound import SendGuard, outbound_reply_create, outbound_send_submit, send_guard_register
from agents.quotes.document import money_uy
from agents.sales.followup import policies_for, policy_for
from agents.staff import staff_task_open
from bmc.conversations.models import Conversation, Customer, Message
from bmc.core.models import Tenant, tenant_get
from bmc.jobs.submit import task_submit_many
from bmc.sales.models import DunningNotice, FollowUpPolicy, Invoice, PaymentPromise, StaffTask
from bmc.sales.policy import sending_allowed

Kind = DunningNotice.Kind
RECEIPT_LOOKBACK = timedelta(hours=24)
RECEIPT_TYPES = ("document", "image")  # a PDF, or a photo of the transfer
PROMISE_HORIZON = timedelta(days=60)  # a promise further out is not taken as one


@dataclass(frozen=True)
class History:
    """What the scan knows of an invoice before deciding."""

    last_notice: date | None
    kinds: frozenset[str]
    promise: PaymentPromise | None
    repeat_late_payer: bool


def dunning_decide(*, invoice: Invoice, today: date, history: History, policy: FollowUpPolicy) -> str | None:
    """The strategy for one overdue invoice today: a DunningNotice kind, or None."""
    days = invoice.days_overdue(today)
    if days <= 0 or invoice.balance <= 0 or invoice.customer.opted_out or Kind.STAFF in history.kinds:
        return None  # a person has it once it was escalated: no more automatic messages
    if history.promise is not None:
        if history.promise.promised_date >= today:
            return None  # the customer said when; wait for it
        return Kind.PROMISE_CHECK  # the day after the promise, still unpaid
    if days > policy.dunning_staff_after_days:
        return Kind.STAFF
    if history.last_notice and (today - history.last_notice).days < policy.dunning_repeat_days:
        return None
    if days > policy.dunning_firm_after_days or history.repeat_late_payer:
        return Kind.FIRM
    return None if Kind.SOFT in history.kinds else Kind.SOFT


def _histories(invoices: list[Invoice], today: date) -> dict[int, History]:
    """Every invoice's history in a fixed number of queries."""
    ids = [i.pk for i in invoices]
    notices: dict[int, list[tuple[str, date]]] = {}
    for invoice_id, kind, local_date in DunningNotice.objects.filter(invoice_id__in=ids).values_list(
        "invoice_id", "kind", "local_date"
    ):
        notices.setdefault(invoice_id, []).append((kind, local_date))
    promises: dict[int, PaymentPromise] = {}
    for promise in PaymentPromise.objects.filter(invoice_id__in=ids, status=PaymentPromise.Status.OPEN).order_by(
        "created_at"
    ):
        promises[promise.invoice_id] = promise  # the latest open one
    customers = {i.customer_id for i in invoices}
    # the customer's history: invoices they paid after their due date
    late_before = Invoice.objects.filter(
        customer_id__in=customers, paid_at__isnull=False, paid_at__date__gt=F("due_date")
    )
    late: dict[int, set[int]] = {}
    for customer_id, invoice_id in late_before.values_list("customer_id", "pk"):
        late.setdefault(customer_id, set()).add(invoice_id)
    return {
        invoice.pk: History(
            last_notice=max((d for _, d in notices.get(invoice.pk, [])), default=None),
            kinds=frozenset(k for k, _ in notices.get(invoice.pk, [])),
            promise=promises.get(invoice.pk),
            repeat_late_payer=bool(late.get(invoice.customer_id, set()) - {invoice.pk}),
        )
        for invoice in invoices
    }


def dunning_scan(*, now: datetime) -> list[int]:
    """Decide today's notices for every tenant in its sending hours. Returns the ids of today's
    notices that carry a message and have none yet: the new ones, and any a scan that stopped
    halfway left behind (the caller dispatches them; writing a message is idempotent). Staff
    escalations open their task here."""
    to_send: list[int] = []
    # only tenants with something open to collect; their policies in one query (defaults if none)
    tenants = list(
        Invoice.objects.filter(status=Invoice.Status.OPEN).order_by().values_list("tenant_id", flat=True).distinct()
    )
    for tenant_id, policy in policies_for(tenants).items():
        if not policy.dunning_enabled or not sending_allowed(now, **policy.quiet_rules):
            continue
        today = now.astimezone(ZoneInfo(policy.timezone)).date()
        invoices = list(
            Invoice.objects.filter(tenant_id=tenant_id, status=Invoice.Status.OPEN, due_date__lt=today).select_related(
                "customer"
            )
        )
        histories = _histories(invoices, today)
        for invoice in invoices:
            kind = dunning_decide(invoice=invoice, today=today, history=histories[invoice.pk], policy=policy)
            if kind is None:
                continue
            _notice_create(invoice=invoice, kind=kind, today=today, promise=histories[invoice.pk].promise)
        to_send += (
            DunningNotice.objects.filter(
                tenant_id=tenant_id, local_date=today, message__isnull=True, invoice__status=Invoice.Status.OPEN
            )
            .exclude(kind=Kind.STAFF)
            .values_list("pk", flat=True)
        )
    return to_send


def _notice_create(*, invoice: Invoice, kind: str, today: date, promise: PaymentPromise | None) -> DunningNotice | None:
    with transaction.atomic():
        notice, created = DunningNotice.objects.get_or_create(
            invoice=invoice,
            local_date=today,
            defaults={"tenant_id": invoice.tenant_id, "kind": kind, "days_overdue": invoice.days_overdue(today)},
        )
        if not created:
            return None  # today's scan ran already
        if kind == Kind.PROMISE_CHECK and promise is not None:
            PaymentPromise.objects.filter(pk=promise.pk).update(
                status=PaymentPromise.Status.BROKEN, checked_at=timezone.now()
            )
        if kind == Kind.STAFF:
            customer = invoice.customer
            task = staff_task_open(
                tenant_id=invoice.tenant_id,
                kind=StaffTask.Kind.PAYMENT_OVERDUE,
                dedupe_key=f"overdue-{invoice.pk}",
                title=gettext("Collect invoice %(number)s from %(who)s")
                % {"number": invoice.number, "who": customer.name or customer.phone},
                detail=ngettext(
                    "%(amount)s overdue since %(due)s (%(days)s day). The automatic reminders are over: call them.",
                    "%(amount)s overdue since %(due)s (%(days)s days). The automatic reminders are over: call them.",
                    invoice.days_overdue(today),
                )
                % {
                    "amount": f"{invoice.currency} {money_uy(invoice.balance)}",
                    "due": f"{invoice.due_date:%d/%m/%Y}",
                    "days": invoice.days_overdue(today),
                },
                customer_id=customer.pk,
                invoice_id=invoice.pk,
            )
            DunningNotice.objects.filter(pk=notice.pk).update(staff_task=task)
    return notice


def _conversation_for(customer: Customer) -> Conversation:
    conversation = (
        Conversation.objects.filter(customer=customer)
        .exclude(state=Conversation.State.CLOSED)
        .order_by("-created_at")
        .first()
    )
    return conversation or Conversation.objects.create(tenant_id=customer.tenant_id, customer=customer)


def dunning_message_prepare(*, tenant_id: int, notice_id: int) -> tuple[int, bool] | None:
    """Write the notice's outbound message, once: (its id, whether this call wrote it), or None
    when it no longer applies (paid or claimed meanwhile, the customer opted out). A notice of
    another tenant raises NotInTenant."""
    notice = tenant_get(DunningNotice.objects.select_related("invoice__customer"), tenant_id=tenant_id, pk=notice_id)
    invoice = notice.invoice
    if notice.message_id:
        return notice.message_id, False
    if invoice.status != Invoice.Status.OPEN or invoice.customer.opted_out or notice.kind == Kind.STAFF:
        return None
    promise = invoice.promises.order_by("-created_at").first()
    context: dict[str, Any] = {
        "name": (invoice.customer.name or "").split(" ")[0],
        "number": invoice.number,
        "currency": invoice.currency,
        "balance": money_uy(invoice.balance),
        "due_date": invoice.due_date.strftime("%d/%m/%Y"),
        "days_overdue": notice.days_overdue,
        "promised_date": promise.promised_date.strftime("%d/%m/%Y") if promise else "",
    }
    text = render_to_string(f"dunning/{notice.kind}.txt", context).strip()
    policy = policy_for(tenant_id=invoice.tenant_id)
    if policy.rewrite_with_model:
        text = message_reword(text=text, tenant_id=invoice.tenant_id)
    message = outbound_reply_create(
        conversation=_conversation_for(invoice.customer),
        text=text,
        idempotency_key=f"dunning-{notice.pk}",
        origin=(Message.Origin.DUNNING, notice.pk),
        extra={
            "template": {
                "name": policy.whatsapp_template,
                "language": policy.whatsapp_template_language,
                "params": [context["name"] or "cliente", invoice.number, f"{invoice.currency} {context['balance']}"],
            },
        },
    )
    linked = DunningNotice.objects.filter(pk=notice.pk, message__isnull=True).update(message=message)
    return message.pk, bool(linked)


def dunning_notices_submit(*, notice_ids: list[int]) -> int:
    """Today's reminders are decided: the dunning agent writes each one's message."""
    tenants = dict(DunningNotice.objects.filter(pk__in=notice_ids).values_list("pk", "tenant_id"))
    with transaction.atomic():
        task_submit_many(
            task_type="dunning.send_notice",
            items=[(tenants[pk], {"notice_id": pk}) for pk in notice_ids],
            requested_by="dunning-scan",
        )
    return len(notice_ids)


def dunning_notice_send(*, tenant: Tenant, notice_id: int, trace_id: str | None) -> dict[str, Any]:
    """Write a reminder's message (once) and hand it to the outbound agent, both in one
    transaction: a message is never written without what sends it."""
    with transaction.atomic():
        prepared = dunning_message_prepare(tenant_id=tenant.pk, notice_id=notice_id)
        if prepared is None:
            return {"notice_id": notice_id, "sent": False, "reason": "no longer applies"}
        message_id, created = prepared
        if created:
            outbound_send_submit(tenant=tenant, message_ids=[message_id], trace_id=trace_id, requested_by="dunning")
    return {"notice_id": notice_id, "message_id": message_id}


def dunning_hold(*, notice_id: int, now: datetime) -> str:
    """Inside the outbound agent's send transaction: lock the customer and the invoice and say why
    the reminder must not go now ('' when it may): paid or claimed meanwhile, a promise made
    since it was written, an opt-out, or quiet hours (a retry that came late; tomorrow's scan
    decides again)."""
    notice = DunningNotice.objects.select_related("invoice").get(pk=notice_id)
    Customer.objects.select_for_update().filter(pk=notice.invoice.customer_id).first()
    invoice = Invoice.objects.select_for_update().select_related("customer").get(pk=notice.invoice_id)
    if invoice.status != Invoice.Status.OPEN:
        return f"the invoice is {invoice.status}"
    if invoice.customer.opted_out:
        return "the customer opted out"
    if notice.kind != Kind.PROMISE_CHECK and invoice.promises.filter(created_at__gt=notice.created_at).exists():
        return "the customer promised a date"
    if not sending_allowed(now, **policy_for(tenant_id=invoice.tenant_id).quiet_rules):
        return "quiet hours"
    return ""


# --- what the customer says -------------------------------------------------------------------------


def invoices_open(*, customer_id: int) -> list[Invoice]:
    """The customer's unpaid invoices, oldest due first."""
    return list(Invoice.objects.filter(customer_id=customer_id, status=Invoice.Status.OPEN).order_by("due_date", "id"))


def invoice_for(*, customer_id: int, order_ref: str | None) -> Invoice | None:
    """The invoice a customer's message is about: the one they name, else the oldest open one."""
    invoices = invoices_open(customer_id=customer_id)
    if order_ref:
        named = [i for i in invoices if order_ref.lower().lstrip("#") in i.number.lower()]
        if named:
            return named[0]
    return invoices[0] if invoices else None


def promise_date_read(value: Any, *, today: date) -> date | None:
    """A promised date the agent can hold the customer to: a real date, from today to two months out."""
    try:
        promised = date.fromisoformat(str(value))
    except ValueError:
        return None
    return promised if today <= promised <= today + PROMISE_HORIZON else None


def dunning_promise_record(*, invoice_id: int, promised_date: date, message_id: int | None) -> PaymentPromise:
    """The customer promised a date. Earlier open promises of the invoice give way to this one."""
    PaymentPromise.objects.filter(invoice_id=invoice_id, status=PaymentPromise.Status.OPEN).update(
        status=PaymentPromise.Status.BROKEN, checked_at=timezone.now()
    )
    invoice = Invoice.objects.get(pk=invoice_id)
    return PaymentPromise.objects.create(
        tenant_id=invoice.tenant_id, invoice=invoice, promised_date=promised_date, message_id=message_id
    )


def receipt_find(*, conversation_id: int, messages: list[Message], now: datetime) -> Message | None:
    """A document the customer sent with the notice, or shortly before it."""
    for message in reversed(messages):
        if (message.raw_payload or {}).get("type") in RECEIPT_TYPES:
            return message
    return (
        Message.objects.filter(
            conversation_id=conversation_id,
            direction=Message.Direction.INBOUND,
            raw_payload__type__in=RECEIPT_TYPES,
            created_at__gte=now - RECEIPT_LOOKBACK,
        )
        .order_by("-created_at")
        .first()
    )


def dunning_payment_claimed(*, invoice_id: int, receipt: Message | None, message_id: int | None) -> StaffTask:
    """The customer says they paid: the invoice waits for staff to confirm it, receipt attached."""
    now = timezone.now()
    fields: dict[str, Any] = {"status": Invoice.Status.PAYMENT_CLAIMED, "claimed_at": now}
    if receipt is not None:
        fields["receipt"] = receipt
    Invoice.objects.filter(pk=invoice_id, status=Invoice.Status.OPEN).update(**fields)
    invoice = Invoice.objects.select_related("customer").get(pk=invoice_id)
    customer = invoice.customer
    return staff_task_open(
        tenant_id=invoice.tenant_id,
        kind=StaffTask.Kind.PAYMENT_CLAIMED,
        dedupe_key=f"claimed-{invoice.pk}-{message_id or now.timestamp()}",
        title=gettext("Confirm the payment of invoice %(number)s (%(who)s)")
        % {"number": invoice.number, "who": customer.name or customer.phone},
        detail=(
            gettext("The customer says they paid %(amount)s.")
            % {"amount": f"{invoice.currency} {money_uy(invoice.balance)}"}
            + " "
            + (
                gettext("They sent the receipt (attached to the invoice).")
                if receipt
                else gettext("They have not sent a receipt yet.")
            )
        ),
        customer_id=customer.pk,
        invoice_id=invoice.pk,
        message_id=message_id,
    )


class InvoiceStateError(ValueError):
    """A payment the invoice's status does not allow."""


def invoice_mark_paid(*, invoice: Invoice, amount: Any | None = None, when: datetime | None = None) -> None:
    """Staff confirmed a payment: in full, or `amount` more of it. Paid in full keeps any open
    promise. Two confirmations at once add up (the row is locked)."""
    when = when or timezone.now()
    with transaction.atomic():
        current = Invoice.objects.select_for_update().get(pk=invoice.pk)
        # (said in the request's language: the admin's Spanish, the API's English)
        if current.status in (Invoice.Status.PAID, Invoice.Status.CANCELLED):
            raise InvoiceStateError(
                gettext("Invoice %(number)s is %(status)s: no payment can be added.")
                % {"number": current.number, "status": current.get_status_display().lower()}
            )
        if amount is not None and amount <= 0:
            raise InvoiceStateError(gettext("amount must be more than 0; leave it out for paid in full."))
        paid = current.amount if amount is None else min(current.amount, current.amount_paid + amount)
        if paid >= current.amount:
            fields = {"amount_paid": paid, "status": Invoice.Status.PAID, "paid_at": when}
        else:  # a part: still open (a claimed payment goes back to being chased for the rest)
            fields = {"amount_paid": paid, "status": Invoice.Status.OPEN}
        Invoice.objects.filter(pk=current.pk).update(**fields)
        if paid >= current.amount:
            PaymentPromise.objects.filter(invoice=current, status=PaymentPromise.Status.OPEN).update(
                status=PaymentPromise.Status.KEPT, checked_at=when
            )


# Just before a reminder goes, the outbound agent asks here whether it still may.
send_guard_register(
    Message.Origin.DUNNING, SendGuard(hold=lambda notice_id, now: dunning_hold(notice_id=notice_id, now=now))
)
