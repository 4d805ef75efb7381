"""The follow-up agent: a quote sent without an answer is followed up at the policy's steps
(24, 48, 72 h by default), at decent hours in the tenant's time zone, and never after the
customer has written.

The life of a follow-up (bmc.sales.models.FollowUp):
- `followup_sequence_start`: a quote was sent (the domain event). One row per step, and the
  expiry reminder, each with its due time. Nothing waits in the broker: no ETA, no countdown.
- `followup_claim_due` (beat, every minute): takes due rows with SELECT ... FOR UPDATE SKIP
  LOCKED, so two scans at once (two beats) split the rows and never share one; drops what
  something stopped (an answer, an opt-out, the quote decided or expired); of several steps due
  together only the latest goes; marks the rest queued. Sending hours are checked here: a row due
  during quiet hours is simply not claimed until they end.
- `followup_message_prepare`: writes the outbound message (the template, optionally reworded by
  the model, numbers unchanged) for the outbound agent to send.
- `followup_hold`: the outbound agent sends a follow-up holding its row locked. An inbound message
  cancels open follow-ups (`followups_stop`) with an UPDATE of those rows, in the transaction that
  stores it, so that UPDATE waits for the lock: a customer message is either stored before the
  check (and the send is withdrawn) or after the send. Never a send after the answer.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Count, Exists, F, Max, OuterRef, Q
from django.template.loader import render_to_string
from django.utils import dateformat, timezone
from django.utils.translation import gettext, gettext_noop, ngettext

from agents.nlu.model import message_reword
from agents.outbound import SendGuard, outbound_reply_create, outbound_send_submit, send_guard_register
from agents.quotes.document import money_uy, quote_public_path, quote_summary_es
from agents.staff import staff_task_open
from bmc.conversations.models import Conversation, Customer, Message
from bmc.core.models import Tenant, tenant_get
from bmc.jobs.submit import task_submit_many
from bmc.quotes.models import Quote
from bmc.sales.models import FollowUp, FollowUpPolicy, StaffTask
from bmc.sales.policy import next_allowed, sending_allowed

Status = FollowUp.Status
Kind = FollowUp.Kind
EXPIRY_REMINDER_AT = time(10, 0)  # local time, the day before the quote expires
EXPIRY_QUIET_AFTER_CHAT = timedelta(hours=12)  # no expiry reminder in the middle of a conversation
STEP_TEMPLATES = 3  # steps past the third use the third's wording
# Why a quote's follow-ups stop, by the quote's status (FollowUp.reason, read by staff).
QUOTE_STOP_REASONS = {
    Quote.Status.DRAFT: gettext_noop("the quote is a draft"),
    Quote.Status.PENDING_APPROVAL: gettext_noop("the quote waits for approval"),
    Quote.Status.ACCEPTED: gettext_noop("the quote was accepted"),
    Quote.Status.REJECTED: gettext_noop("the quote was rejected"),
    Quote.Status.EXPIRED: gettext_noop("the quote expired"),
}


def policy_for(*, tenant_id: int, tenant: Tenant | None = None) -> FollowUpPolicy:
    """The tenant's policy, created with the defaults if it has none. `tenant`: when the caller
    holds it, its policy comes from it (already read if it was selected with it)."""
    if tenant is not None:
        try:
            return tenant.followup_policy
        except FollowUpPolicy.DoesNotExist:
            pass
    policy = FollowUpPolicy.objects.filter(tenant_id=tenant_id).first()
    return policy or FollowUpPolicy.objects.get_or_create(tenant_id=tenant_id)[0]


def policies_for(tenant_ids) -> dict[int, FollowUpPolicy]:
    """The policies of these tenants in one query; the defaults (not saved) for one without."""
    tenant_ids = list(tenant_ids)
    policies = {p.tenant_id: p for p in FollowUpPolicy.objects.filter(tenant_id__in=tenant_ids)}
    return {tenant_id: policies.get(tenant_id) or FollowUpPolicy(tenant_id=tenant_id) for tenant_id in tenant_ids}


def followup_sequence_start(*, quote: Quote) -> list[FollowUp]:
    """A quote went to the customer: schedule its follow-ups and its expiry reminder."""
    if quote.customer_id is None or quote.sent_at is None or quote.status != Quote.Status.SENT:
        return []
    # the tenant, when the quote came with it (a turn selects its policy with it)
    policy = policy_for(tenant_id=quote.tenant_id, tenant=quote.tenant if Quote.tenant.is_cached(quote) else None)
    common = dict(tenant_id=quote.tenant_id, quote=quote, customer_id=quote.customer_id)
    rows = []
    if policy.enabled:
        rows += [
            FollowUp(
                **common,
                conversation_id=quote.conversation_id,
                kind=Kind.STEP,
                step=number,
                due_at=quote.sent_at + timedelta(hours=hours),
            )
            for number, hours in enumerate(policy.steps_hours[: policy.max_attempts], start=1)
        ]
    if policy.expiry_reminder:
        due = _expiry_reminder_at(quote=quote, policy=policy)
        if due and due > quote.sent_at + timedelta(hours=24):
            rows.append(FollowUp(**common, conversation_id=quote.conversation_id, kind=Kind.EXPIRY, step=0, due_at=due))
    return FollowUp.objects.bulk_create(rows, ignore_conflicts=True)


def _expiry_reminder_at(*, quote: Quote, policy: FollowUpPolicy) -> datetime | None:
    """10:00 the day before the quote expires; on a quiet day, the last sending day before it;
    at quiet hours, that day's first sending time."""
    zone = ZoneInfo(policy.timezone)
    day = quote.valid_until - timedelta(days=1)
    while day >= timezone.localdate(quote.sent_at, zone):
        at = datetime.combine(day, EXPIRY_REMINDER_AT, tzinfo=zone)
        if sending_allowed(at, **policy.quiet_rules):
            return at
        first = next_allowed(datetime.combine(day, time(0, 0), tzinfo=zone), **policy.quiet_rules)
        if first.date() == day:
            return first
        day -= timedelta(days=1)
    return None


def followups_stop(
    *,
    reason: str,
    customer_id: int | None = None,
    quote_ids: list[int] | None = None,
    steps_only: bool = False,
) -> int:
    """Cancel open follow-ups of a customer or of quotes. In the transaction that stores a
    customer's message this waits for a follow-up being sent right now (see `followup_hold`)."""
    rows = FollowUp.objects.filter(status__in=FollowUp.OPEN)
    if customer_id is not None:
        rows = rows.filter(customer_id=customer_id)
    if quote_ids is not None:
        rows = rows.filter(quote_id__in=quote_ids)
    if steps_only:
        rows = rows.filter(kind=Kind.STEP)
    return rows.update(status=Status.CANCELLED, reason=reason[:200])


def quote_stop_reason(status: str | None) -> str:
    """Why a quote in this status (None: deleted) is followed up no more, for staff."""
    if status is None:
        return gettext("the quote was deleted")
    if status in QUOTE_STOP_REASONS:
        return gettext(QUOTE_STOP_REASONS[status])
    return gettext("the quote is %(status)s") % {"status": status}


def _allowed_tenants(now: datetime) -> list[int]:
    """Tenants whose sending hours include `now`; a tenant without a policy gets the defaults."""
    policies = policies_for(Tenant.objects.values_list("pk", flat=True))
    return [tenant_id for tenant_id, policy in policies.items() if sending_allowed(now, **policy.quiet_rules)]


def _stop_reasons(rows: list[FollowUp], now: datetime) -> dict[int, str]:
    """Why each of these follow-ups must not go, looked up for the whole batch at once."""
    quotes = {
        q["pk"]: q for q in Quote.objects.filter(pk__in={r.quote_id for r in rows}).values("pk", "status", "sent_at")
    }
    customer_ids = {r.customer_id for r in rows}
    opted_out = set(Customer.objects.filter(pk__in=customer_ids, opted_out=True).values_list("pk", flat=True))
    last_inbound = dict(
        Message.objects.filter(conversation__customer_id__in=customer_ids, direction=Message.Direction.INBOUND)
        .values("conversation__customer_id")
        .annotate(last=Max("created_at"))
        .values_list("conversation__customer_id", "last")
    )
    conversation_ids = {r.conversation_id for r in rows if r.conversation_id}
    with_staff = set(
        Conversation.objects.filter(pk__in=conversation_ids, state=Conversation.State.HANDOFF).values_list(
            "pk", flat=True
        )
    )
    newest_sent = dict(
        Quote.objects.filter(
            conversation_id__in=conversation_ids, status__in=[Quote.Status.SENT, Quote.Status.ACCEPTED]
        )
        .values("conversation_id")
        .annotate(last=Max("sent_at"))
        .values_list("conversation_id", "last")
    )
    reasons = {}
    for row in rows:
        quote = quotes.get(row.quote_id)
        newer = newest_sent.get(row.conversation_id)
        reason = _stop_reason(row, quote, row.customer_id in opted_out, last_inbound.get(row.customer_id), now)
        if not reason and row.conversation_id in with_staff:
            # staff have the customer: the bot says nothing, and these nudges are not for later
            # either (after staff talked to them, "¿pudiste ver la cotización?" would be odd)
            reason = gettext("staff have the conversation")
        elif not reason and newer and quote["sent_at"] and newer > quote["sent_at"]:
            reason = gettext("a newer quote replaced it")
        if reason:
            reasons[row.pk] = reason
    return reasons


def _stop_reason(
    row: FollowUp, quote: dict[str, Any] | None, opted_out: bool, last_inbound: datetime | None, now: datetime
) -> str:
    if quote is None or quote["status"] != Quote.Status.SENT:
        return quote_stop_reason(quote["status"] if quote else None)
    if opted_out:
        return gettext("the customer opted out")
    if row.conversation_id is None:
        return gettext("the quote has no conversation to write to")
    if row.kind == Kind.STEP and last_inbound and quote["sent_at"] and last_inbound > quote["sent_at"]:
        return gettext("the customer wrote after the quote was sent")
    if row.kind == Kind.EXPIRY and last_inbound and now - last_inbound < EXPIRY_QUIET_AFTER_CHAT:
        return gettext("the customer is in a conversation with us")
    return ""


def followup_claim_due(*, now: datetime, limit: int = 500) -> list[int]:
    """Claim due follow-ups (at most `limit`): they go queued and their ids are returned for the
    caller to dispatch. A constant number of queries per call, whatever the backlog."""
    tenants = _allowed_tenants(now)
    if not tenants:
        return []
    with transaction.atomic():
        rows = list(
            FollowUp.objects.select_for_update(skip_locked=True)
            .filter(status=Status.SCHEDULED, due_at__lte=now, tenant_id__in=tenants)
            .order_by("due_at", "id")[:limit]
        )
        if not rows:
            return []
        reasons = _stop_reasons(rows, now)
        live = [r for r in rows if r.pk not in reasons]
        # Of a quote's steps due together only the latest goes, wherever it is: in this batch, in
        # the next one, or held by another scan right now (a plain read does not wait for it).
        latest = dict(
            FollowUp.objects.filter(
                quote_id__in={r.quote_id for r in live if r.kind == Kind.STEP},
                kind=Kind.STEP,
                status__in=FollowUp.OPEN,
                due_at__lte=now,
            )
            .values("quote_id")
            .annotate(step=Max("step"))
            .values_list("quote_id", "step")
        )
        superseded = {
            r.pk: gettext("step %(step)s was due too") % {"step": latest[r.quote_id]}
            for r in live
            if r.kind == Kind.STEP and r.step < latest.get(r.quote_id, r.step)
        }
        # a step never goes right after the one before (quiet hours held that one back): it waits
        # at least half the policy's gap between the two
        too_soon = _too_soon([r for r in live if r.pk not in superseded and r.kind == Kind.STEP])
        for pk, later in too_soon.items():
            FollowUp.objects.filter(pk=pk).update(due_at=later)
        for reason in set(reasons.values()):
            FollowUp.objects.filter(pk__in=[pk for pk, r in reasons.items() if r == reason]).update(
                status=Status.CANCELLED, reason=reason
            )
        for reason in set(superseded.values()):
            FollowUp.objects.filter(pk__in=[pk for pk, r in superseded.items() if r == reason]).update(
                status=Status.SKIPPED, reason=reason
            )
        claimed = [r.pk for r in live if r.pk not in superseded and r.pk not in too_soon]
        FollowUp.objects.filter(pk__in=claimed).update(status=Status.QUEUED, claimed_at=now)
    return claimed


def _too_soon(rows: list[FollowUp]) -> dict[int, datetime]:
    """Steps whose quote had another step go out (or on its way) less than half the policy's gap
    before: their new due time."""
    if not rows:
        return {}
    last = dict(
        FollowUp.objects.filter(
            quote_id__in={r.quote_id for r in rows}, kind=Kind.STEP, status__in=[Status.QUEUED, Status.SENT]
        )
        .values("quote_id")
        .annotate(at=Max("claimed_at"))
        .values_list("quote_id", "at")
    )
    policies = policies_for({r.tenant_id for r in rows})
    later = {}
    for row in rows:
        if row.quote_id not in last or last[row.quote_id] is None:
            continue
        hours = policies[row.tenant_id].steps_hours
        gap = (hours[row.step - 1] - hours[row.step - 2]) if 2 <= row.step <= len(hours) else min(hours)
        earliest = last[row.quote_id] + timedelta(hours=gap / 2)
        if row.due_at < earliest:
            later[row.pk] = earliest
    return later


def _template_context(followup: FollowUp, *, base_url: str) -> dict[str, Any]:
    quote = followup.quote
    summary = quote_summary_es(quote.spec)
    return {
        "name": (followup.customer.name or "").split(" ")[0],
        "number": quote.number,
        "product": summary[0].lower() + summary[1:] if summary else "paneles",
        "total": money_uy(quote.total),
        "valid_until": quote.valid_until.strftime("%d/%m/%Y"),
        "pdf_url": f"{base_url.rstrip('/')}{quote_public_path(quote)}",
    }


def followup_text(followup: FollowUp, context: dict[str, Any]) -> str:
    name = "expiry" if followup.kind == Kind.EXPIRY else f"step_{min(followup.step, STEP_TEMPLATES)}"
    return render_to_string(f"followups/{name}.txt", context).strip()


def followup_message_prepare(*, tenant_id: int, followup_id: int, base_url: str) -> tuple[int, bool] | None:
    """Write the follow-up's outbound message, once: (its id, whether this call wrote it), or
    None when the follow-up is no longer queued (something stopped it meanwhile). A follow-up of
    another tenant raises NotInTenant."""
    followup = tenant_get(
        FollowUp.objects.select_related("quote", "customer", "conversation"), tenant_id=tenant_id, pk=followup_id
    )
    if followup.status != Status.QUEUED:
        return None
    if followup.message_id:
        return followup.message_id, False
    policy = policy_for(tenant_id=followup.tenant_id)
    context = _template_context(followup, base_url=base_url)
    text = followup_text(followup, context)
    if policy.rewrite_with_model:
        text = message_reword(text=text, tenant_id=followup.tenant_id)
    message = outbound_reply_create(
        conversation=followup.conversation,
        text=text,
        idempotency_key=f"followup-{followup.pk}-{followup.claimed_at.timestamp():.0f}",  # one per claim
        origin=(Message.Origin.FOLLOWUP, followup.pk),
        extra={
            # outside WhatsApp's 24-hour window the approved template goes instead
            "template": {
                "name": policy.whatsapp_template,
                "language": policy.whatsapp_template_language,
                "params": [context["name"] or "cliente", context["number"], f"USD {context['total']}"],
            },
        },
    )
    linked = FollowUp.objects.filter(pk=followup.pk, message__isnull=True).update(message=message)
    return message.pk, bool(linked)


def followups_submit_due(*, now: datetime, batch: int = 500, max_batches: int = 40) -> int:
    """Claim due follow-ups a batch at a time and hand each to the follow-up agent. Each batch
    commits on its own, so a scan stopped halfway loses nothing and holds no lock for long."""
    submitted = 0
    for _ in range(max_batches):
        with transaction.atomic():
            claimed = followup_claim_due(now=now, limit=batch)
            tenants = dict(FollowUp.objects.filter(pk__in=claimed).values_list("pk", "tenant_id"))
            task_submit_many(
                task_type="followup.send_followup",
                items=[(tenants[pk], {"followup_id": pk}) for pk in claimed],
                requested_by="followup-scan",
            )
        submitted += len(claimed)
        if len(claimed) < batch:
            break
    return submitted


def followup_send(*, tenant: Tenant, followup_id: int, base_url: str, trace_id: str | None) -> dict[str, Any]:
    """Write a due follow-up's message (once) and hand it to the outbound agent, both in one
    transaction: a message is never written without what sends it."""
    with transaction.atomic():
        prepared = followup_message_prepare(tenant_id=tenant.pk, followup_id=followup_id, base_url=base_url)
        if prepared is None:
            return {"followup_id": followup_id, "sent": False, "reason": "no longer queued"}
        message_id, created = prepared
        if created:
            outbound_send_submit(tenant=tenant, message_ids=[message_id], trace_id=trace_id, requested_by="followup")
    return {"followup_id": followup_id, "message_id": message_id}


def followup_hold(*, followup_id: int, now: datetime) -> str:
    """Inside the outbound agent's send transaction: lock the customer and the follow-up, and say
    why it must not go now ('' when it may). A stopped follow-up is cancelled here; one that
    reached its send in quiet hours (a retry, a backlog) goes back to wait for the next sending
    time, to be claimed and written again then."""
    row = FollowUp.objects.filter(pk=followup_id).first()
    if row is None:
        return "the follow-up is gone"
    # the customer's row first, as an inbound message takes it: whichever commits first wins
    Customer.objects.select_for_update().filter(pk=row.customer_id).first()
    row = FollowUp.objects.select_for_update().get(pk=followup_id)
    if row.status != Status.QUEUED:
        return f"the follow-up is {row.status}"
    reason = _stop_reasons([row], now).get(row.pk, "")
    if reason:
        FollowUp.objects.filter(pk=row.pk).update(status=Status.CANCELLED, reason=reason)
        return reason
    rules = policy_for(tenant_id=row.tenant_id).quiet_rules
    if not sending_allowed(now, **rules):
        resume = next_allowed(now, **rules)
        FollowUp.objects.filter(pk=row.pk).update(
            status=Status.SCHEDULED,
            due_at=resume,
            message=None,
            reason=gettext("reached its send in quiet hours; goes %(when)s")
            % {"when": dateformat.format(resume, "D d/m H:i")},
        )
        return "quiet hours"
    return ""


def followup_sent(*, followup_id: int, now: datetime) -> None:
    FollowUp.objects.filter(pk=followup_id, status=Status.QUEUED).update(status=Status.SENT, sent_at=now)


def followup_failed(*, followup_id: int, reason: str) -> None:
    FollowUp.objects.filter(pk=followup_id, status=Status.QUEUED).update(status=Status.FAILED, reason=reason[:200])


# --- effectiveness ------------------------------------------------------------------------------


def followup_effectiveness(*, tenant_id: int, since: datetime | None = None) -> list[dict[str, Any]]:
    """Per step: how many were sent, delivered, read, answered within 24 h, and how many of their
    quotes were accepted after them."""
    sent = FollowUp.objects.filter(tenant_id=tenant_id, status=Status.SENT)
    if since:
        sent = sent.filter(sent_at__gte=since)
    answered = Message.objects.filter(
        conversation__customer_id=OuterRef("customer_id"),
        direction=Message.Direction.INBOUND,
        created_at__gt=OuterRef("sent_at"),
        created_at__lte=OuterRef("sent_at") + timedelta(hours=24),
    )
    rows = (
        sent.annotate(answered=Exists(answered))
        .values("kind", "step")
        .annotate(
            sent=Count("id"),
            delivered=Count("id", filter=Q(message__delivery_status__in=["delivered", "read"])),
            read=Count("id", filter=Q(message__delivery_status="read")),
            answered_24h=Count("id", filter=Q(answered=True)),
            accepted_after=Count(
                "id", filter=Q(quote__status=Quote.Status.ACCEPTED, quote__decided_at__gt=F("sent_at"))
            ),
        )
        .order_by("kind", "step")
    )
    return [
        {
            "kind": row["kind"],
            "step": row["step"],
            "sent": row["sent"],
            "delivered": row["delivered"],
            "read": row["read"],
            "answered_24h": row["answered_24h"],
            "accepted_after": row["accepted_after"],
            "answer_rate": round(row["answered_24h"] / row["sent"], 3) if row["sent"] else 0.0,
        }
        for row in rows
    ]


# --- proactive actions --------------------------------------------------------------------------


def quotes_expire(*, now: datetime) -> int:
    """Quotes sent and never decided expire the day after their validity; their follow-ups stop."""
    today = timezone.localdate(now)
    expired = list(Quote.objects.filter(status=Quote.Status.SENT, valid_until__lt=today).values_list("pk", flat=True))
    if not expired:
        return 0
    Quote.objects.filter(pk__in=expired, status=Quote.Status.SENT).update(status=Quote.Status.EXPIRED)
    FollowUp.objects.filter(quote_id__in=expired, status__in=FollowUp.OPEN).update(
        status=Status.CANCELLED, reason=quote_stop_reason(Quote.Status.EXPIRED)
    )
    return len(expired)


def quotes_without_order(*, now: datetime) -> list[int]:
    """Accepted quotes with no order `order_wait_days` later: a staff task each, once."""
    opened = []
    for policy in policies_for(Tenant.objects.values_list("pk", flat=True)).values():
        waiting = Quote.objects.filter(
            tenant_id=policy.tenant_id,
            status=Quote.Status.ACCEPTED,
            ordered_at__isnull=True,
            decided_at__lte=now - timedelta(days=policy.order_wait_days),
        ).select_related("customer")
        for quote in waiting:
            title = (
                gettext("%(number)s accepted without an order: contact %(who)s")
                % {"number": quote.number, "who": quote.customer.name or quote.customer.phone}
                if quote.customer
                else gettext("%(number)s accepted without an order: contact the customer") % {"number": quote.number}
            )
            task = staff_task_open(
                tenant_id=quote.tenant_id,
                kind=StaffTask.Kind.ORDER_MISSING,
                dedupe_key=f"order-missing-{quote.pk}",
                title=title,
                detail=ngettext(
                    "Quote %(number)s (USD %(total)s) was accepted on %(date)s and no order was recorded in "
                    "%(days)s day. Arrange the payment and the delivery, or mark it as ordered in the admin.",
                    "Quote %(number)s (USD %(total)s) was accepted on %(date)s and no order was recorded in "
                    "%(days)s days. Arrange the payment and the delivery, or mark it as ordered in the admin.",
                    policy.order_wait_days,
                )
                % {
                    "number": quote.number,
                    "total": money_uy(quote.total),
                    "date": f"{timezone.localtime(quote.decided_at):%d/%m/%Y}",
                    "days": policy.order_wait_days,
                },
                customer_id=quote.customer_id,
                conversation_id=quote.conversation_id,
                quote_id=quote.pk,
            )
            opened.append(task.pk)
    return opened


# Just before a follow-up goes, the outbound agent asks here whether it still may.
send_guard_register(
    Message.Origin.FOLLOWUP,
    SendGuard(
        hold=lambda followup_id, now: followup_hold(followup_id=followup_id, now=now),
        sent=lambda followup_id, now: followup_sent(followup_id=followup_id, now=now),
        failed=lambda followup_id, reason: followup_failed(followup_id=followup_id, reason=reason),
    ),
)
