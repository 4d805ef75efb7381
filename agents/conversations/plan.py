"""What a turn decides, before it writes anything: every message understood, what they say of the
spec folded into the dialogue, then the one thing the turn answers, by a table of handlers in
order of precedence (PLAN_HANDLERS), or else the reply to what the customer said last
(REPLY_HANDLERS)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext_noop

from agents.catalog.answers import catalog_answer
from agents.conversations.wording import copy_render, reply_text, spec_question
from agents.nlu.dialogue import choice_said, room_measures, says_paid, thanks_only, thickness_options, thickness_said
from agents.nlu.model import message_understand
from agents.nlu.places import place_unknown
from agents.nlu.text import text_normalize
from agents.nlu.vocabulary import NLU_SPEC_KEYS
from agents.orders.service import order_awaiting_payment
from agents.quotes.document import money_uy
from agents.quotes.pricing import catalog_snapshot
from agents.sales.dunning import RECEIPT_TYPES, invoice_for, promise_date_read
from agents.text import plain
from bmc.conversations.models import Conversation, Message
from bmc.quotes.models import Quote

# Messages with nothing to read but a reply is due: their WhatsApp type -> the reply.
NO_TEXT_REPLIES = {"audio": "audio", "video": "audio", "location": "location"}
# Intents that need a person: the conversation goes to staff.
STAFF_INTENTS = ("human_handoff", "complaint", "order_status", "payment_notice")
# What staff are asked to do when a reply promises them: intent -> the task's title.
# (marked for the catalog here, translated where the task is opened)
STAFF_TASK_TITLES = {
    "human_handoff": gettext_noop("The customer asked to talk to a person"),
    "complaint": gettext_noop("Complaint: solve it with the customer"),
    "order_status": gettext_noop("Question about an order"),
    "payment_notice": gettext_noop("Payment question or notice"),
    "product_info": gettext_noop("Product question to answer"),
    "opted_out_wrote": gettext_noop("A customer who opted out wrote again: answer in person"),
}


@dataclass
class Plan:
    intent: str = "other"
    text: str = ""
    dialogue: dict[str, Any] = field(default_factory=dict)
    quote_spec: dict[str, Any] | None = None
    option_specs: list[dict[str, Any]] = field(default_factory=list)
    state: str | None = None
    opt_out: bool = False
    quote_status: str | None = None
    nlu: dict[int, dict[str, Any]] = field(default_factory=dict)
    decided_quote_id: int | None = None  # the option the customer chose, when there were several
    promise: tuple[int, date] | None = None  # (invoice id, promised date)
    payment_claim: int | None = None  # invoice id the customer says they paid
    order_payment_claim: int | None = None  # order id the customer says they paid by transfer
    staff_task: str = ""  # a key of STAFF_TASK_TITLES: what a person has to do after this turn
    customer_name: str = ""  # the name the customer gave, for a customer without one
    notes: list[str] = field(default_factory=list)  # asked for, not in the quote, and why


@dataclass
class TurnRead:
    """What a turn read from its messages: the handlers decide on it and fill its plan."""

    conversation: Conversation
    messages: list[Message]
    plan: Plan
    spec: dict[str, Any]  # the dialogue's spec itself (plan.dialogue["spec"]): a change is kept
    intents: list[str] = field(default_factory=list)
    spec_changed: bool = False
    asked: dict[str, Any] = field(default_factory=dict)  # what other agents answered this turn, asked once


# A handler decides the turn and returns True, or returns False and leaves it to the next one.
# It is given the key it is listed under.
Handler = Callable[..., bool]


def turn_plan(*, conversation: Conversation, messages: list[Message]) -> Plan:
    """What to do about these messages; reads, never writes."""
    turn = _turn_read(conversation=conversation, messages=messages)
    for key, handler in PLAN_HANDLERS.items():
        if handler(turn, key=key):
            return turn.plan
    intents = turn.intents
    last = next((i for i in reversed(intents) if i != "other"), intents[-1] if intents else "other")
    REPLY_HANDLERS.get(last, _reply_plain)(turn, key=last)
    return turn.plan


def _turn_read(*, conversation: Conversation, messages: list[Message]) -> TurnRead:
    """Each message understood, in order, and what it says of the spec folded into the dialogue's."""
    dialogue = dict(conversation.dialogue or {})
    turn = TurnRead(
        conversation=conversation,
        messages=messages,
        plan=Plan(dialogue=dialogue),
        spec=dict(dialogue.get("spec") or {}),
    )
    for message in messages:
        parsed = message_understand(
            text=message.text, sent_at=message.sent_at or message.created_at, tenant_id=conversation.tenant_id
        )
        turn.plan.nlu[message.pk] = parsed
        entities = parsed.get("entities") or {}
        turn.intents.append(_intent_in_context(parsed=parsed, entities=entities, spec=turn.spec))
        _spec_read(turn, message=message, entities=entities)
        if entities.get("name") and not conversation.customer.name:
            turn.plan.customer_name = entities["name"]
    dialogue["spec"] = turn.spec
    dialogue["last_intents"] = turn.intents
    return turn


# Below this confidence, a message that changes what is being quoted is read as that change.
CHANGE_CONFIDENCE = 0.5


def _intent_in_context(*, parsed: dict[str, Any], entities: dict[str, Any], spec: dict[str, Any]) -> str:
    """ "no, el ancho es 4,5", "sacale la silicona": said of a quote under way, a message whose only
    clear content is a change of the spec is that change, not the decline or complaint the model
    half-guessed."""
    intent = parsed["intent"]
    if intent in ("quote_request", "opt_out", "human_handoff") or not spec:
        return intent
    if parsed.get("confidence", 1) < CHANGE_CONFIDENCE and any(key in entities for key in NLU_SPEC_KEYS):
        return "quote_request"
    return intent


def _spec_read(turn: TurnRead, *, message: Message, entities: dict[str, Any]) -> None:
    """What one message says of the spec: the NLU's entities, the extras, a thickness said alone."""
    spec = turn.spec
    if entities.get("use"):
        spec["scenario"] = entities["use"]  # NLU uses are the pricing scenarios
    elif entities.get("family") and entities["family"] != spec.get("family"):
        spec.pop("scenario", None)  # "mejor isopanel": the new family's own use, not the old one
    for key in NLU_SPEC_KEYS:
        if key in entities:
            spec[key] = entities[key]
            turn.spec_changed = True
    if "height_m" not in entities and (spec.get("scenario") == "cold_room" or spec.get("family") == "ISOFRIG_PIR"):
        for key, value in room_measures(message.text).items():
            spec[key] = value
            turn.spec_changed = True
    if entities.get("shipping") is not None:
        turn.plan.dialogue["shipping"] = entities["shipping"]
    if entities.get("shipping") is False:
        spec.pop("zone", None)
    if "zone" in entities:
        turn.plan.dialogue.pop("place_unknown", None)
    else:
        unknown = place_unknown(text=text_normalize(text=message.text))
        if unknown:  # "flete a villa tranquila": asked about, never dropped
            turn.plan.dialogue["place_unknown"] = unknown
            turn.spec_changed = True
    if "width_m" in entities:
        spec.pop("panel_count", None)
    if "panel_count" in entities:
        spec.pop("width_m", None)
    if "thickness_mm" not in entities and spec.get("family"):
        known = catalog_snapshot(tenant=turn.conversation.tenant).thicknesses(spec["family"])
        said = thickness_said(message.text, known=known, current=spec.get("thickness_mm"))
        if said:
            spec["thickness_mm"], turn.spec_changed = said, True


def _plan_opt_out(turn: TurnRead, *, key: str) -> bool:
    """The customer asks not to be written to again: confirm it, once."""
    if key not in turn.intents:
        return False
    turn.plan.intent, turn.plan.opt_out, turn.plan.text = key, True, reply_text(key)
    return True


def _plan_staff_hold(turn: TurnRead, *, key: str) -> bool:
    """Staff have the conversation: the bot stays quiet."""
    if turn.conversation.state != Conversation.State.HANDOFF:
        return False
    turn.plan.intent = key
    return True


def _plan_opted_out(turn: TurnRead, *, key: str) -> bool:
    """A customer who opted out wrote again: nothing more is sent, a person decides what to answer."""
    if not turn.conversation.customer.opted_out:
        return False
    turn.plan.intent, turn.plan.staff_task = key, "opted_out_wrote"
    return True


def _plan_option_choice(turn: TurnRead, *, key: str) -> bool:
    """Alternatives are open: the one the customer chose, or which one, when they accept without saying."""
    offered = _options_offered(conversation=turn.conversation, dialogue=turn.plan.dialogue)
    if not offered or {"human_handoff", "complaint", "decline_quote"} & set(turn.intents):
        return False
    plan = turn.plan
    chosen = _option_chosen(messages=turn.messages, intents=turn.intents, offered=offered)
    if chosen:
        thickness = next(t for t, pk in offered.items() if pk == chosen)
        turn.spec["thickness_mm"] = thickness  # later changes ("en gris") re-quote the one chosen
        plan.intent, plan.quote_status, plan.decided_quote_id = "accept_quote", Quote.Status.ACCEPTED, chosen
        plan.text = copy_render("options/chosen", thickness=str(thickness))
        return True
    if "accept_quote" in turn.intents and len(offered) > 1:
        plan.intent = "accept_quote"
        plan.text = copy_render("options/which", thicknesses=[str(t) for t in sorted(offered)])
        return True
    return False


def _plan_said(turn: TurnRead, *, key: str) -> bool:
    """A person asked for, a complaint, a quote accepted or declined: its reply, and staff told."""
    if key not in turn.intents:
        return False
    plan = turn.plan
    plan.intent, plan.text = key, reply_text(key)
    plan.staff_task = key if key in STAFF_TASK_TITLES else ""
    if key in STAFF_INTENTS:
        plan.state = Conversation.State.HANDOFF
    if key in ("accept_quote", "decline_quote"):
        plan.quote_status = Quote.Status.ACCEPTED if key == "accept_quote" else Quote.Status.REJECTED
    return True


def _plan_payment(turn: TurnRead, *, key: str) -> bool:
    """A customer with an unpaid invoice says they paid, or when they will: the dunning agent's
    part of the turn. False when they have no open invoice (the generic answer applies)."""
    if not {"payment_notice", "promise_to_pay"} & set(turn.intents):
        return False
    plan, messages = turn.plan, turn.messages
    said = {k: v for m in messages for k, v in (plan.nlu[m.pk].get("entities") or {}).items()}
    invoice = invoice_for(customer_id=turn.conversation.customer_id, order_ref=said.get("order_ref"))
    if invoice is None:
        return _plan_order_paid(turn, said=said)
    context = {"number": invoice.number, "amount": f"{invoice.currency} {money_uy(invoice.balance)}"}
    if "payment_notice" in turn.intents:
        sent_receipt = any((m.raw_payload or {}).get("type") in RECEIPT_TYPES for m in messages)
        if not sent_receipt and not any(says_paid(m.text) for m in messages):
            return False  # asks how to pay: a person answers that
        plan.intent, plan.payment_claim = "payment_notice", invoice.pk
        plan.text = copy_render("payment/claimed", **context)
        return True
    plan.intent = "promise_to_pay"
    day = promise_date_read(said.get("promised_date"), today=timezone.localdate(messages[-1].created_at))
    if day is None:  # no date, or none we can hold them to
        plan.text = copy_render("payment/date_asked", **context)
        return True
    plan.promise = (invoice.pk, day)
    plan.text = copy_render("payment/promise_recorded", day=f"{day:%d/%m}", **context)
    return True


def _plan_order_paid(turn: TurnRead, *, said: dict[str, Any]) -> bool:
    """A customer with an order waiting for its payment says they transferred, or sends the
    receipt: staff confirm it (Orders > Payment received by bank transfer); the order's workflow
    goes on from there. False when they have no such order."""
    messages, plan = turn.messages, turn.plan
    if "payment_notice" not in turn.intents:
        return False
    order = order_awaiting_payment(customer_id=turn.conversation.customer_id, order_ref=said.get("order_ref"))
    sent_receipt = any((m.raw_payload or {}).get("type") in RECEIPT_TYPES for m in messages)
    if order is None or not (sent_receipt or any(says_paid(m.text) for m in messages)):
        return False
    plan.intent, plan.order_payment_claim = "payment_notice", order.pk
    plan.text = copy_render(
        "payment/claimed_order", number=order.number, amount=f"{order.currency} {money_uy(order.total)}"
    )
    return True


def _plan_quote_request(turn: TurnRead, *, key: str) -> bool:
    """A quote asked for, or the spec changed: the next question, the alternatives, or the quote."""
    spec = turn.spec
    if key not in turn.intents and not (turn.spec_changed and spec):
        return False
    if key not in turn.intents and _catalog_reply(turn) is not None:
        return False  # a product named in a question the catalog agent answers: no quote is begun
    plan = turn.plan
    plan.intent = key
    options = [t for message in turn.messages for t in thickness_options(message.text)]
    if len(options) >= 2 and not spec.get("thickness_mm"):
        spec["thickness_mm"] = options[0]
    question = spec_question(spec, turn.conversation)
    if question:
        plan.text = question
    elif len(options) >= 2:
        plan.option_specs = [{**spec, "thickness_mm": t} for t in dict.fromkeys(options)]
    else:
        plan.quote_spec = spec
        plan.notes = _quote_notes(spec=spec, dialogue=plan.dialogue)
    return True


def _quote_notes(*, spec: dict[str, Any], dialogue: dict[str, Any]) -> list[str]:
    """What the customer asked for that the quote leaves out, each with why: nothing asked for is
    dropped in silence."""
    notes = []
    if not spec.get("zone") and dialogue.get("shipping") is not False:
        if dialogue.get("place_unknown"):
            notes.append(copy_render("notes/place_unknown", place=dialogue["place_unknown"]))
        elif dialogue.get("shipping"):
            notes.append(copy_render("notes/freight_where"))
    if spec.get("gutters") and spec.get("scenario", "roof") != "roof":
        notes.append(copy_render("notes/gutters_roof_only"))
    return notes


def _reply_plain(turn: TurnRead, *, key: str) -> bool:
    """The reply to what the customer said last, and staff told when it needs a person."""
    plan = turn.plan
    plan.intent, plan.text = key, reply_text(key)
    plan.staff_task = key if key in STAFF_TASK_TITLES else ""
    if key in STAFF_INTENTS:
        plan.state = Conversation.State.HANDOFF
    return True


def _catalog_reply(turn: TurnRead) -> dict[str, Any] | None:
    """The catalog agent's answer to the turn's last product question (asked once per turn)."""
    if "catalog" not in turn.asked:
        message = next((m for m in reversed(turn.messages) if turn.plan.nlu[m.pk]["intent"] == "product_info"), None)
        entities = {**turn.spec, **(turn.plan.nlu[message.pk].get("entities") or {})} if message else {}
        turn.asked["catalog"] = (
            catalog_answer(tenant=turn.conversation.tenant, text=message.text, entities=entities) if message else None
        )
    return turn.asked["catalog"]


def _reply_product(turn: TurnRead, *, key: str) -> bool:
    """A product question: the catalog agent's answer (colors, thicknesses, stock, which panel for
    a use); a person's, told in a staff task, when the catalog cannot answer it."""
    answer = _catalog_reply(turn)
    if answer is None:
        return _reply_plain(turn, key=key)
    turn.plan.intent, turn.plan.text = key, answer["text"]
    return True


def _reply_greeting(turn: TurnRead, *, key: str) -> bool:
    """A greeting: the introduction once per conversation, a shorter hello after it."""
    _reply_plain(turn, key=key)
    if turn.plan.dialogue.get("greeted"):
        turn.plan.text = copy_render("replies/greeting_again")
    turn.plan.dialogue["greeted"] = True
    return True


def _reply_other(turn: TurnRead, *, key: str) -> bool:
    """Nothing understood: thanks answered as thanks, a voice note or a location by its kind, a
    photo without a caption not at all, anything else with a request to say more."""
    _reply_plain(turn, key=key)
    messages = turn.messages
    no_text = [NO_TEXT_REPLIES.get((m.raw_payload or {}).get("type")) for m in messages if not m.text.strip()]
    said = [plain(m.text) for m in messages if m.text.strip()]
    if thanks_only(said):
        turn.plan.text = reply_text("thanks")
    elif not said:  # only voice notes, locations, photos without a caption...
        reply = next((r for r in no_text if r), None)
        turn.plan.text = reply_text(reply) if reply else ""
    return True


# In order of precedence: the first handler that decides the turn wins. Keys are intents, or what
# decides a turn before any intent does (staff hold the conversation, the customer opted out,
# alternatives are open); "payment" stands for payment_notice and promise_to_pay.
PLAN_HANDLERS: dict[str, Handler] = {
    "opt_out": _plan_opt_out,
    "handoff_quiet": _plan_staff_hold,
    "opted_out_quiet": _plan_opted_out,
    "option_choice": _plan_option_choice,
    "human_handoff": _plan_said,
    "complaint": _plan_said,
    "accept_quote": _plan_said,
    "decline_quote": _plan_said,
    "payment": _plan_payment,
    "quote_request": _plan_quote_request,
}
# When no handler above decided: the reply to the last intent that is not "other" (_reply_plain
# for any intent not listed).
REPLY_HANDLERS: dict[str, Handler] = {
    "greeting": _reply_greeting,
    "product_info": _reply_product,
    "other": _reply_other,
}


def _options_offered(*, conversation: Conversation, dialogue: dict[str, Any]) -> dict[int, int]:
    """Thickness -> quote id of the alternatives last sent together and still open."""
    group = dialogue.get("last_option_group")
    if not group:
        return {}
    quotes = Quote.objects.filter(conversation=conversation, option_group=group, status=Quote.Status.SENT)
    return {int(q.spec.get("thickness_mm")): q.pk for q in quotes if q.spec.get("thickness_mm")}


def _option_chosen(*, messages: list[Message], intents: list[str], offered: dict[int, int]) -> int | None:
    """'confirmo la de 150', 'me quedo con la opcion de 100 mm': the one offered thickness named
    with a word of choice. Two named, or none, is no choice."""
    for message in reversed(messages):
        text = plain(message.text)
        named = {int(n) for n in re.findall(r"\b(\d{2,3})\b", text)} & set(offered)
        if len(named) == 1 and (choice_said(text) or "accept_quote" in intents):
            return offered[named.pop()]
    return None
