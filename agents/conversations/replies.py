"""Replies that send quotes: the quote a turn prices, one staff approved, and the alternatives the
customer asked for together, priced in parallel and answered in one message."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from agents.conversations.holds import ConversationBusy, hold_release, hold_take, hold_token
from agents.conversations.wording import copy_render, first_lowered, question_text, spec_error_es
from agents.outbound import outbound_reply_create, outbound_send_submit
from agents.quotes.document import UNIT_LABELS, money_uy, quantity_uy, quote_public_path, quote_summary_es
from agents.quotes.pricing import QuoteSpecError, catalog_snapshot, quote_create, quote_price, quote_spec_parse
from agents.sales.followup import followup_sequence_start
from bmc.conversations.models import Conversation, Message
from bmc.core.models import Tenant, tenant_get
from bmc.quotes.models import Quote


def quote_reply(
    *, conversation: Conversation, spec: dict[str, Any], source: Message, base_url: str, notes: list[str] = ()
) -> tuple[str, str, Quote | None]:
    """A complete spec priced, stored and sent (or held for a person's approval), or why it cannot
    be priced: (the reply, the PDF's address, the quote). `notes`: what was asked for and is not in
    the quote, with why, told after it."""
    catalog = catalog_snapshot(tenant=conversation.tenant)
    try:
        parsed = quote_spec_parse(data=spec, catalog=catalog)
        priced = quote_price(spec=parsed, catalog=catalog)
    except QuoteSpecError as error:
        return (copy_render("quote/refused", error=spec_error_es(error, spec, catalog)), "", None)
    quote = quote_create(
        tenant=conversation.tenant,
        result=priced,
        customer=conversation.customer,
        conversation=conversation,
        source_message=source,
        sent=True,  # unless it needs approval: the reply below sends it
    )
    greeting = copy_render("quote/greeting", name=(conversation.customer.name or "").split(" ")[0])
    if quote.status == Quote.Status.PENDING_APPROVAL:
        # no price and no document before a person approves it
        summary = first_lowered(quote_summary_es(parsed.as_dict()))
        text = copy_render(
            "quote/pending_approval", greeting=greeting, summary=summary, number=quote.number, notes=notes
        )
        return text, "", quote
    missing = priced.missing_for_full_quote
    text, pdf_url = quote_sent_text(
        quote=quote,
        base_url=base_url,
        greeting=greeting,
        lines=priced.lines,
        estimate_question=question_text(missing[0]) if priced.estimate and missing else "",
        notes=notes,
    )
    followup_sequence_start(quote=quote)
    return text, pdf_url, quote


def quote_sent_text(
    *, quote: Quote, base_url: str, greeting: str, lines=None, estimate_question: str = "", notes=()
) -> tuple[str, str]:
    """The message that sends a quote: lines, totals, validity, the PDF link. Marks a draft sent
    (a quote stored as sent is the caller's to follow up).
    `lines`: the priced lines the quote was just stored with (read from it otherwise).
    `estimate_question`: for a price by m2, what the exact quote still needs (asked instead of
    whether to go ahead)."""
    pdf_url = f"{base_url.rstrip('/')}{quote_public_path(quote)}"
    text = copy_render(
        "quote/sent",
        greeting=greeting,
        number=quote.number,
        summary=first_lowered(quote_summary_es(quote.spec)),
        lines=[
            {
                "quantity": quantity_uy(line.quantity),
                "unit": UNIT_LABELS.get(line.unit, line.unit),
                "description": line.description,
                "amount": money_uy(line.amount),
            }
            for line in (quote.lines.all() if lines is None else lines)
        ],
        subtotal=money_uy(quote.subtotal),
        iva=money_uy(quote.iva),
        total=money_uy(quote.total),
        valid_until=quote.valid_until.strftime("%d/%m/%Y"),
        pdf_url=pdf_url,
        estimate_question=estimate_question,
        notes=list(notes),
    )
    if quote.status == Quote.Status.DRAFT:
        quotes_mark_sent(quote_ids=[quote.pk], follow_up=quote.pk, quote=quote)
    return text, pdf_url


def quotes_mark_sent(*, quote_ids: list[int], follow_up: int | None, quote: Quote | None = None) -> None:
    """The quotes went to the customer. Sending one is the event that starts its follow-ups:
    of alternatives sent together, only `follow_up` is followed up (one nudge, not one each).
    `quote`: the one to follow up, when the caller holds it (saves reading it again)."""
    now = timezone.now()
    if not Quote.objects.filter(pk__in=quote_ids, status=Quote.Status.DRAFT).update(
        status=Quote.Status.SENT, sent_at=now
    ):
        return
    if follow_up is None:
        return
    if quote is not None and quote.pk == follow_up:
        quote.status, quote.sent_at = Quote.Status.SENT, now
    else:
        quote = Quote.objects.get(pk=follow_up)
    followup_sequence_start(quote=quote)


def quote_reply_after_approval(*, quote: Quote, base_url: str) -> Message | None:
    """Staff approved a quote over the threshold: now it goes to the customer, once."""
    if quote.conversation_id is None or quote.status != Quote.Status.DRAFT:
        return None
    conversation = Conversation.objects.select_related("customer").get(pk=quote.conversation_id)
    text, pdf_url = quote_sent_text(quote=quote, base_url=base_url, greeting=copy_render("quote/greeting_approved"))
    return outbound_reply_create(
        conversation=conversation, text=text, document_url=pdf_url, idempotency_key=f"approved-{quote.pk}"
    )


def quote_option_price(
    *, tenant_id: int, conversation_id: int, spec: dict[str, Any], option_group: str, source_message_id: int | None
) -> dict[str, Any]:
    """One alternative of several the customer asked for; priced and stored, not yet sent."""
    conversation = tenant_get(
        Conversation.objects.select_related("customer", "tenant"), tenant_id=tenant_id, pk=conversation_id
    )
    if source_message_id is not None:
        tenant_get(Message.objects.filter(conversation=conversation), tenant_id=tenant_id, pk=source_message_id)
    catalog = catalog_snapshot(tenant=conversation.tenant)
    key = hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:32]
    stored = Quote.objects.filter(conversation=conversation, option_group=option_group, option_key=key)
    existing = stored.first()
    if existing:  # a task run twice stores one quote
        return {"quote_id": existing.pk}
    try:
        priced = quote_price(spec=quote_spec_parse(data=spec, catalog=catalog), catalog=catalog)
    except QuoteSpecError as error:
        return {"error": spec_error_es(error, spec, catalog), "thickness_mm": spec.get("thickness_mm")}
    try:
        with transaction.atomic():
            quote = quote_create(
                tenant=conversation.tenant,
                result=priced,
                customer=conversation.customer,
                conversation=conversation,
                source_message_id=source_message_id,
                option_group=option_group,
                option_key=key,
            )
    except IntegrityError:
        quote = stored.first()  # the same alternative stored meanwhile by another run of this task
        if quote is None:
            raise  # refused for another reason
    return {"quote_id": quote.pk}


def quote_options_reply(
    *,
    tenant_id: int,
    conversation_id: int,
    option_group: str,
    outcomes: list[dict[str, Any]],
    base_url: str,
    answers: list[int] | None = None,
    trace_id: str | None = None,
    holder: str = "",
) -> int | None:
    """The alternatives, answered together in one message. Returns the reply's id; the task that
    sends it is recorded in the same transaction. Holds the conversation as a turn does, since it
    writes the dialogue: raises ConversationBusy while a turn runs (its plan read the dialogue
    before this would change it)."""
    token = hold_token(holder)
    if not hold_take(conversation_id, token, tenant_id=tenant_id):
        raise ConversationBusy(f"a turn holds conversation {conversation_id}")
    try:
        with transaction.atomic():
            reply_id = _options_reply(
                conversation_id=conversation_id,
                option_group=option_group,
                outcomes=outcomes,
                base_url=base_url,
                answers=answers,
            )
            outbound_send_submit(
                tenant=Tenant.objects.get(pk=tenant_id),
                message_ids=[reply_id],
                trace_id=trace_id,
                requested_by="conversation",
                priority="high",
            )
        return reply_id
    finally:
        hold_release(conversation_id, token)


def _options_reply(
    *, conversation_id: int, option_group: str, outcomes: list[dict[str, Any]], base_url: str, answers: list[int] | None
) -> int:
    conversation = Conversation.objects.select_related("customer").get(pk=conversation_id)
    # the chord's own outcomes, yet only quotes of this conversation are answered with
    quotes = list(
        Quote.objects.filter(
            conversation=conversation, pk__in=[o["quote_id"] for o in outcomes if "quote_id" in o]
        ).order_by("total")
    )
    if not quotes:
        text = copy_render("options/failed", errors=" ".join(dict.fromkeys(o.get("error", "") for o in outcomes)))
    else:
        text = _options_text(quotes=quotes, outcomes=outcomes, base_url=base_url)
        sendable = [q.pk for q in quotes if q.status == Quote.Status.DRAFT]
        quotes_mark_sent(quote_ids=sendable, follow_up=sendable[0] if sendable else None)
        dialogue = {**conversation.dialogue, "last_quote_id": quotes[0].pk, "last_option_group": option_group}
        Conversation.objects.filter(pk=conversation_id).update(dialogue=dialogue)
    reply = outbound_reply_create(
        conversation=conversation,
        text=text,
        idempotency_key=f"options-{option_group}",
        extra={"answers": answers} if answers else None,
    )
    return reply.pk


def _options_text(*, quotes: list[Quote], outcomes: list[dict[str, Any]], base_url: str) -> str:
    """The alternatives priced, cheapest first, each with its PDF (or said to wait for a person's
    approval); an alternative that could not be priced is said, not dropped."""
    options = [
        {"kind": "pending", "summary": quote_summary_es(quote.spec)}
        if quote.status == Quote.Status.PENDING_APPROVAL
        else {
            "kind": "priced",
            "summary": quote_summary_es(quote.spec),
            "total": money_uy(quote.total),
            "url": f"{base_url.rstrip('/')}{quote_public_path(quote)}",
        }
        for quote in quotes
    ]
    options += [
        {"kind": "error", "thickness": str(o.get("thickness_mm")), "error": o["error"]}
        for o in outcomes
        if "error" in o
    ]
    return copy_render("options/reply", several=len(quotes) > 1, count=str(len(quotes)), options=options)
