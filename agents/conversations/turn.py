"""A conversation's turn: read what the customer wrote, keep the dialogue state, decide the reply.

One turn at a time per conversation. A turn takes every inbound message not yet answered;
messages that arrive while it runs join it (it looks again before it commits its reply), so a
burst gets one reply, with no fixed waiting window. A worker that finds a turn under way leaves
its message to that turn.

A turn reads and plans (agents.conversations.plan, no writes), then commits what it decided in
one transaction (here). Prices come only from agents.quotes.pricing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext

from agents.conversations.holds import hold_release, hold_take, hold_token
from agents.conversations.plan import STAFF_TASK_TITLES, Plan, turn_plan
from agents.conversations.replies import quote_reply
from agents.events import event_emit
from agents.orders.service import order_payment_claimed
from agents.outbound import outbound_reply_create, outbound_send_submit
from agents.quotes.pricing import catalog_pinned
from agents.sales.dunning import dunning_payment_claimed, dunning_promise_record, receipt_find
from agents.sales.followup import followups_stop, quote_stop_reason
from agents.staff import staff_task_open
from bmc.conversations.models import Conversation, Customer, Message
from bmc.jobs.submit import task_submit
from bmc.quotes.models import Quote
from bmc.sales.models import StaffTask


@dataclass
class TurnResult:
    conversation_id: int
    answered: list[int] = field(default_factory=list)
    replies: list[int] = field(default_factory=list)
    quotes: list[int] = field(default_factory=list)
    options: list[dict[str, Any]] = field(default_factory=list)  # alternatives to price in parallel
    option_group: str = ""
    source_message_id: int | None = None
    answers: list[int] = field(default_factory=list)  # [first, last] inbound message ids of the turn
    skipped: str = ""
    released: bool = False  # the turn's claim was let go with its commit

    def as_dict(self) -> dict[str, Any]:
        return {
            "conversation_id": self.conversation_id,
            "answered": self.answered,
            "replies": self.replies,
            "quotes": self.quotes,
            "options": self.options,
            "option_group": self.option_group,
            "skipped": self.skipped,
        }


class TurnRaced(Exception):
    """A message of this turn was answered meanwhile by another turn (one that took over a turn
    it thought stale): this turn's writes are rolled back and it reads again."""


class TurnLost(Exception):
    """This turn ran past TURN_STALE and another took the conversation over: its writes are
    rolled back and the other answers."""


def conversation_turn(
    *,
    tenant_id: int,
    conversation_id: int,
    public_base_url: str,
    trace_id: str | None = None,
    holder: str = "",
) -> TurnResult:
    """Answer the conversation's unanswered messages as one turn. The tasks that send its replies
    (and price its alternatives) are recorded in the turn's own transaction, so a reply is never
    stored without what sends it; they are published once it commits. A conversation of another
    tenant raises NotInTenant, and nothing is read or written. `holder`: who takes the turn
    (hold_token)."""
    token = hold_token(holder)
    result = TurnResult(conversation_id=conversation_id)
    if not hold_take(conversation_id, token, tenant_id=tenant_id):
        result.skipped = "a turn is under way; it answers this message too"
        return result
    try:
        with catalog_pinned():
            result = _turn(
                conversation_id=conversation_id,
                token=token,
                result=result,
                public_base_url=public_base_url,
                trace_id=trace_id,
            )
    finally:
        if not result.released:
            hold_release(conversation_id, token)
    return result


def _turn(
    *,
    conversation_id: int,
    token: str,
    result: TurnResult,
    public_base_url: str,
    trace_id: str | None,
) -> TurnResult:
    while True:
        # the follow-up policy with its tenant: a quote sent in the turn schedules its follow-ups
        conversation = Conversation.objects.select_related("customer", "tenant__followup_policy").get(
            pk=conversation_id
        )
        pending = list(_unanswered(conversation_id))
        if not pending:
            return result
        plan = turn_plan(conversation=conversation, messages=pending)
        try:
            with transaction.atomic():
                if connection.features.has_select_for_update:  # SQLite's IMMEDIATE transaction locks already
                    Conversation.objects.select_for_update().only("pk").get(pk=conversation_id)
                if _unanswered(conversation_id).exclude(pk__in=[m.pk for m in pending]).exists():
                    continue  # more arrived while we thought: answer them all together
                _turn_commit(
                    conversation=conversation,
                    token=token,
                    messages=pending,
                    plan=plan,
                    result=result,
                    base_url=public_base_url,
                )
                _turn_hand_on(conversation=conversation, result=result, trace_id=trace_id)
        except TurnRaced:
            continue
        except TurnLost as lost:
            return TurnResult(conversation_id=conversation_id, skipped=str(lost), released=True)
        result.released = True  # committed, and the claim with it
        return result


def _turn_hand_on(*, conversation: Conversation, result: TurnResult, trace_id: str | None) -> None:
    """What a turn hands on, in its own transaction: its replies to the outbound agent, and the
    alternatives asked together ('en 100 y en 150') to the quote agent, which prices them in
    parallel and answers them in one reply (quote_options_reply)."""
    tenant = conversation.tenant
    outbound_send_submit(
        tenant=tenant, message_ids=result.replies, trace_id=trace_id, requested_by="conversation", priority="high"
    )
    if result.options:
        task_submit(
            tenant=tenant,
            task_type="quote.price_options",
            payload={
                "conversation_id": result.conversation_id,
                "option_group": result.option_group,
                "options": result.options,
                "source_message_id": result.source_message_id,
                "answers": result.answers,
            },
            priority="high",
            trace_id=trace_id,
            requested_by="conversation",
        )


def _unanswered(conversation_id: int):
    return Message.objects.filter(
        conversation_id=conversation_id, direction=Message.Direction.INBOUND, processed_at__isnull=True
    ).order_by("created_at", "id")


def _turn_commit(
    *, conversation: Conversation, token: str, messages: list[Message], plan: Plan, result: TurnResult, base_url: str
) -> None:
    """What the turn decided, written in order: its messages answered, the customer, the quotes
    decided, what staff and dunning must know, the quote priced, the dialogue (with the claim let
    go), and the reply."""
    now = timezone.now()
    _messages_answer(messages=messages, plan=plan, now=now)
    result.answered.extend(m.pk for m in messages)
    updates: dict[str, Any] = {"dialogue": plan.dialogue}
    if plan.state:
        updates["state"] = plan.state
    if plan.opt_out:
        Customer.objects.filter(pk=conversation.customer_id).update(opted_out=True, opted_out_at=now)
        followups_stop(customer_id=conversation.customer_id, reason=gettext("the customer opted out"))
    _quotes_decide(conversation=conversation, plan=plan, now=now)
    if plan.customer_name:
        Customer.objects.filter(pk=conversation.customer_id, name="").update(name=plan.customer_name[:200])
        conversation.customer.name = plan.customer_name
    _others_tell(conversation=conversation, messages=messages, plan=plan, now=now)
    text, document_url = _turn_quote(
        conversation=conversation, messages=messages, plan=plan, result=result, base_url=base_url
    )
    # the turn's claim is let go with what it decided, if it is still this turn's
    if not Conversation.objects.filter(pk=conversation.pk, turn_owner=token).update(
        **updates, turn_owner="", turn_started_at=None
    ):
        raise TurnLost("this turn ran too long and another took the conversation over: it answers, or a retry")
    if text:
        _reply_store(
            conversation=conversation, messages=messages, plan=plan, result=result, text=text, document_url=document_url
        )


def _messages_answer(*, messages: list[Message], plan: Plan, now: datetime) -> None:
    """The turn's messages marked answered, with what the NLU read in them; raises TurnRaced when
    another turn answered one meanwhile."""
    for message in messages:
        parsed = plan.nlu[message.pk]
        if not Message.objects.filter(pk=message.pk, processed_at__isnull=True).update(
            processed_at=now, intent=parsed["intent"], entities=parsed.get("entities") or {}
        ):
            raise TurnRaced(f"message {message.pk} was answered by another turn")


def _quotes_decide(*, conversation: Conversation, plan: Plan, now: datetime) -> int | None:
    """The quote the customer accepted or declined, marked so with its follow-ups stopped, and the
    alternatives sent with it declined too, or not chosen. Returns the quote decided on (or the
    last one sent, when nothing was decided)."""
    decided = plan.decided_quote_id or plan.dialogue.get("last_quote_id")
    if not (plan.quote_status and decided):
        return decided
    changed = Quote.objects.filter(pk=decided, status__in=[Quote.Status.SENT, Quote.Status.DRAFT]).update(
        status=plan.quote_status, decided_at=now
    )
    if changed:  # in the turn's transaction: the decision and its event commit together
        quote = Quote.objects.get(pk=decided)
        event_emit(
            tenant=conversation.tenant,
            type=f"quote.{plan.quote_status}",
            subject=f"quote:{decided}",
            data={
                "quote_id": decided,
                "number": quote.number,
                "total": str(quote.total),
                "currency": quote.currency,
                "conversation_id": conversation.pk,
                "customer_id": conversation.customer_id,
            },
        )
    followups_stop(quote_ids=[decided], reason=quote_stop_reason(plan.quote_status))
    group = plan.dialogue.pop("last_option_group", None)  # decided: no more choosing among them
    if group:  # the alternatives sent with it: declined together, or not chosen
        others = Quote.objects.filter(conversation=conversation, option_group=group, status=Quote.Status.SENT)
        rejected = list(others.exclude(pk=decided).values_list("pk", flat=True))
        if rejected:
            Quote.objects.filter(pk__in=rejected).update(status=Quote.Status.REJECTED, decided_at=now)
            accepted = plan.quote_status == Quote.Status.ACCEPTED
            reason = gettext("another option was chosen") if accepted else quote_stop_reason(plan.quote_status)
            followups_stop(quote_ids=rejected, reason=reason)
        plan.dialogue["last_quote_id"] = decided
    return decided


def _others_tell(*, conversation: Conversation, messages: list[Message], plan: Plan, now: datetime) -> None:
    """What others must know of the turn: the task it promised staff, and the payment promised or
    claimed, for the dunning agent."""
    if plan.staff_task:
        _staff_task_for(conversation=conversation, kind=plan.staff_task, messages=messages)
    if plan.promise:
        dunning_promise_record(invoice_id=plan.promise[0], promised_date=plan.promise[1], message_id=messages[-1].pk)
    if plan.order_payment_claim:
        receipt = receipt_find(conversation_id=conversation.pk, messages=messages, now=now)
        order_payment_claimed(order_id=plan.order_payment_claim, receipt=receipt, message_id=messages[-1].pk)
    if plan.payment_claim:
        receipt = receipt_find(conversation_id=conversation.pk, messages=messages, now=now)
        dunning_payment_claimed(invoice_id=plan.payment_claim, receipt=receipt, message_id=messages[-1].pk)


def _turn_quote(
    *, conversation: Conversation, messages: list[Message], plan: Plan, result: TurnResult, base_url: str
) -> tuple[str, str]:
    """The alternatives handed on to be priced, or the quote priced now: the reply's text and its
    document's address."""
    text, document_url = plan.text, ""
    if plan.option_specs:
        result.options = plan.option_specs
        result.option_group = f"opt-{messages[-1].pk}"
        result.source_message_id = messages[-1].pk
        result.answers = [messages[0].pk, messages[-1].pk]
    if plan.quote_spec is not None:
        text, document_url, quote = quote_reply(
            conversation=conversation, spec=plan.quote_spec, source=messages[-1], base_url=base_url, notes=plan.notes
        )
        if quote is not None:
            plan.dialogue["last_quote_id"] = quote.pk
            result.quotes.append(quote.pk)
    return text, document_url


def _reply_store(
    *,
    conversation: Conversation,
    messages: list[Message],
    plan: Plan,
    result: TurnResult,
    text: str,
    document_url: str,
) -> None:
    """The turn's reply, stored to be sent; an opt-out's confirmation marked as such."""
    reply = outbound_reply_create(
        conversation=conversation,
        text=text,
        document_url=document_url,
        idempotency_key=f"turn-{messages[-1].pk}",
        extra={"answers": [messages[0].pk, messages[-1].pk]},  # the messages this reply answers
        new=True,  # these messages were unanswered when marked above, in this transaction
    )
    if plan.opt_out:
        Message.objects.filter(pk=reply.pk).update(raw_payload={**reply.raw_payload, "opt_out_confirmation": True})
    result.replies.append(reply.pk)


def _staff_task_for(*, conversation: Conversation, kind: str, messages: list[Message]) -> None:
    """What the reply promised a person: one open task per conversation and kind, the customer's
    later words added to it (two product questions in a row are one task); a new one once it is done.
    Keyed by the turn's last message, so a turn that runs twice opens one."""
    words = "\n".join(m.text for m in messages if m.text)
    title = gettext(STAFF_TASK_TITLES[kind])
    open_task = StaffTask.objects.filter(
        conversation=conversation,
        kind=StaffTask.Kind.HANDOFF,
        title__in={title, STAFF_TASK_TITLES[kind]},  # one opened before its title was translated too
        status=StaffTask.Status.OPEN,
    ).first()
    if open_task is not None:
        if words and words not in open_task.detail:
            StaffTask.objects.filter(pk=open_task.pk).update(detail=f"{open_task.detail}\n{words}"[-4000:])
        return
    staff_task_open(
        tenant_id=conversation.tenant_id,
        kind=StaffTask.Kind.HANDOFF,
        dedupe_key=f"{kind}-{messages[-1].pk}",
        title=title,
        detail=words[:4000],
        customer_id=conversation.customer_id,
        conversation_id=conversation.pk,
        message_id=messages[-1].pk,
    )
