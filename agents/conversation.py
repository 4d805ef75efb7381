"""A conversation's turn: read what the customer wrote, keep the dialogue state, decide the reply.

One turn at a time per conversation. A turn takes every inbound message not yet answered;
messages that arrive while it runs join it (it looks again before it commits its reply), so a
burst gets one reply, with no fixed waiting window. A worker that finds a turn under way leaves
its message to that turn.

What customers read is Rioplatense Spanish. Prices come only from agents.quote.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from agents.dunning import (
    RECEIPT_TYPES,
    dunning_payment_claimed,
    dunning_promise_record,
    invoice_for,
    promise_date_read,
    receipt_find,
)
from agents.followup import followup_sequence_start, followups_stop
from agents.nlu.dialogue import says_paid
from agents.nlu.model import message_understand
from agents.outbound import outbound_failed, outbound_reply_create, outbound_send_submit
from agents.quote import (
    QuoteSpecError,
    catalog_pinned,
    catalog_snapshot,
    quote_create,
    quote_price,
    quote_spec_parse,
)
from agents.quote_document import (
    FAMILY_NAMES,
    UNIT_LABELS,
    money_uy,
    quantity_uy,
    quote_public_path,
    quote_summary_es,
)
from agents.staff import staff_task_open
from agents.text import plain
from bmc.conversations.models import Conversation, Customer, Message
from bmc.core.models import Tenant, tenant_get
from bmc.jobs.models import AgentTask
from bmc.jobs.submit import task_cancel as jobs_task_cancel
from bmc.jobs.submit import task_submit
from bmc.quotes.models import Quote
from bmc.sales.models import StaffTask

logger = logging.getLogger(__name__)
TURN_STALE = timedelta(seconds=60)
SPEC_ENTITIES = (
    "family",
    "thickness_mm",
    "length_m",
    "width_m",
    "run_m",
    "area_m2",
    "panel_count",
    "slopes",
    "color",
    "zone",
)
FAMILIES_FOR_USE = {
    "roof": "Isodec EPS, Isodec PIR o Isoroof 3G",
    "wall": "Isopanel EPS o Isowall PIR",
    "cold_room": "Isofrig PIR",
}
QUESTIONS = {
    "length_m": "¿Qué largo tienen los paneles? En un techo es el largo de la caída; en una pared, la altura.",
    "width_m": "¿Y qué ancho tiene? (o cuántos paneles necesitás)",
    "run_m": "¿Cuántos metros lineales de pared son en total?",
    "height_m": "¿Qué altura interior tiene la cámara?",
}
REPLIES = {
    "greeting": "¡Hola! Soy el asistente de BMC Uruguay. ¿En qué te puedo ayudar? Si querés cotizar, "
    "contame qué panel, para qué uso (techo, pared o cámara) y las medidas.",
    "human_handoff": "Dale, te paso con un vendedor. En breve te escribe por acá.",
    "opt_out": "Entendido, no te vamos a escribir más. Si más adelante nos escribís, te responde una persona del equipo.",
    "complaint": "Lamentamos mucho lo que pasó. Ya le aviso a un vendedor para que lo resuelva con vos cuanto antes.",
    "accept_quote": "¡Buenísimo! Un vendedor te contacta para coordinar el pago y la entrega.",
    "decline_quote": "Gracias por avisarnos. Si querés, te cotizamos otra opción cuando quieras.",
    "postpone": "Dale, sin problema. Cuando lo tengas definido, escribinos por acá.",
    "order_status": "Ya le paso tu consulta sobre el pedido a un vendedor, que te responde en breve.",
    "payment_notice": "¡Gracias! Le paso tu mensaje a administración y te responden por acá en breve.",
    "promise_to_pay": "Perfecto, queda anotado. ¡Gracias por avisar!",
    "product_info": "Buena pregunta: le paso tu consulta a un vendedor para que te asesore. "
    "Si querés un precio, contame el panel, el uso y las medidas.",
    "other": "No estoy seguro de haberte entendido. ¿Me contás un poco más qué necesitás?",
    "thanks": "¡De nada! Cualquier cosa, escribinos por acá.",
    "audio": "¡Hola! Por ahora no puedo escuchar audios ni ver videos. ¿Me lo escribís? Así te respondo enseguida.",
    "location": "¡Gracias por la ubicación! Contame qué necesitás (panel, uso y medidas) y te cotizo con el envío.",
}
# Messages with nothing to read but a reply is due: their WhatsApp type -> the reply.
NO_TEXT_REPLIES = {"audio": "audio", "video": "audio", "location": "location"}
# "gracias!", "perfecto, muchas gracias 👍": thanks, nothing else. A bare "dale" or "ok" is not
# thanks (after a quote it may be a yes), nor is a lone "?".
_THANKS_WORDS = r"gracias|grac|graciass|agradezco|agradecido|agradecida"
THANKS_WORD_RE = re.compile(rf"\b(?:{_THANKS_WORDS})\b")
THANKS_RE = re.compile(
    rf"^(?:\W|(?:muchas|mil|{_THANKS_WORDS}|genial|perfecto|ok|oka|okey|dale"
    r"|barbaro|buenisimo|buenismo|joya|listo|bien|bueno|de\s+acuerdo|entendido|igualmente|saludos|un\s+abrazo"
    r"|abrazo|nomas|che|bo|ahi|va|por\s+todo|por\s+la\s+info)\b)*$"
)
# Intents that need a person: the conversation goes to staff.
STAFF_INTENTS = ("human_handoff", "complaint", "order_status", "payment_notice")
# What staff are asked to do when a reply promises them: intent -> the task's title.
STAFF_TASK_TITLES = {
    "human_handoff": "The customer asked to talk to a person",
    "complaint": "Complaint: solve it with the customer",
    "order_status": "Question about an order",
    "payment_notice": "Payment question or notice",
    "product_info": "Product question to answer",
    "accept_quote": "Quote accepted: arrange payment and delivery",
    "opted_out_wrote": "A customer who opted out wrote again: answer in person",
}


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
    staff_task: str = ""  # a key of STAFF_TASK_TITLES: what a person has to do after this turn
    customer_name: str = ""  # the name the customer gave, for a customer without one


class TurnRaced(Exception):
    """A message of this turn was answered meanwhile by another turn (one that took over a turn
    it thought stale): this turn's writes are rolled back and it reads again."""


class TurnLost(Exception):
    """This turn ran past TURN_STALE and another took the conversation over: its writes are
    rolled back and the other answers."""


class ConversationBusy(Exception):
    """A turn holds the conversation: what wanted to write its dialogue tries again shortly."""


def _hold_take(conversation_id: int, token: str, *, tenant_id: int) -> bool:
    """Hold the conversation with one conditional UPDATE: free, or held by a holder gone stale.
    Whoever writes the dialogue holds it: turns, and the answer to alternatives. Only a
    conversation of the tenant: another's id raises NotInTenant and holds nothing."""
    now = timezone.now()
    free = Q(turn_owner="") | Q(turn_started_at__isnull=True) | Q(turn_started_at__lt=now - TURN_STALE)
    mine = Conversation.objects.filter(pk=conversation_id, tenant_id=tenant_id)
    if mine.filter(free).update(turn_owner=token, turn_started_at=now):
        return True
    tenant_get(mine, tenant_id=tenant_id, pk=conversation_id)  # raises when it is not the tenant's
    return False


def _hold_release(conversation_id: int, token: str) -> None:
    Conversation.objects.filter(pk=conversation_id, turn_owner=token).update(turn_owner="", turn_started_at=None)


def hold_token(holder: str) -> str:
    """A turn's claim on a conversation, naming who holds it (a worker's node name), so that a
    worker started again can let go of what its previous run held when it died."""
    return f"{holder[:31]}|{uuid.uuid4().hex}" if holder else uuid.uuid4().hex


def conversation_holds_release(*, holder: str) -> int:
    """A worker (re)started under this name holds no conversation: claims its previous run left
    behind are let go now instead of going stale after TURN_STALE. Returns how many."""
    return Conversation.objects.filter(turn_owner__startswith=f"{holder[:31]}|").update(
        turn_owner="", turn_started_at=None
    )


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
    if not _hold_take(conversation_id, token, tenant_id=tenant_id):
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
            _hold_release(conversation_id, token)
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


CHOICE_RE = re.compile(
    r"\b(?:la|el|opcion|me quedo|quedamos|vamos|avancemos|avanzamos|prefiero|quiero|elijo|confirmo|dale)\b"
)


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
        if len(named) == 1 and (CHOICE_RE.search(text) or "accept_quote" in intents):
            return offered[named.pop()]
    return None


def _payment_plan(plan: Plan, *, conversation: Conversation, messages: list[Message], intents: list[str]) -> bool:
    """A customer with an unpaid invoice says they paid, or when they will: the dunning agent's
    part of the turn. False when they have no open invoice (the generic answer applies)."""
    said = {k: v for m in messages for k, v in (plan.nlu[m.pk].get("entities") or {}).items()}
    invoice = invoice_for(customer_id=conversation.customer_id, order_ref=said.get("order_ref"))
    if invoice is None:
        return False
    amount = f"{invoice.currency} {money_uy(invoice.balance)}"
    if "payment_notice" in intents:
        sent_receipt = any((m.raw_payload or {}).get("type") in RECEIPT_TYPES for m in messages)
        if not sent_receipt and not any(says_paid(m.text) for m in messages):
            return False  # asks how to pay: a person answers that
        plan.intent, plan.payment_claim = "payment_notice", invoice.pk
        plan.text = (
            f"¡Gracias! Le paso el aviso de pago de la factura {invoice.number} ({amount}) a administración "
            "para que lo confirme. Si tenés el comprobante, mandámelo por acá."
        )
        return True
    plan.intent = "promise_to_pay"
    day = promise_date_read(said.get("promised_date"), today=timezone.localdate(messages[-1].created_at))
    if day is None:  # no date, or none we can hold them to
        plan.text = f"¡Gracias por avisar! ¿Para qué día tenés previsto pagar la factura {invoice.number} ({amount})?"
        return True
    plan.promise = (invoice.pk, day)
    plan.text = f"Perfecto, anoto que el {day:%d/%m} pagás la factura {invoice.number} ({amount}). ¡Gracias por avisar!"
    return True


def _unanswered(conversation_id: int):
    return Message.objects.filter(
        conversation_id=conversation_id, direction=Message.Direction.INBOUND, processed_at__isnull=True
    ).order_by("created_at", "id")


def turn_plan(*, conversation: Conversation, messages: list[Message]) -> Plan:
    """What to do about these messages; reads, never writes."""
    dialogue = dict(conversation.dialogue or {})
    spec = dict(dialogue.get("spec") or {})
    plan = Plan(dialogue=dialogue)
    intents: list[str] = []
    spec_changed = False
    for message in messages:
        parsed = message_understand(text=message.text, sent_at=message.sent_at or message.created_at)
        plan.nlu[message.pk] = parsed
        intents.append(parsed["intent"])
        entities = parsed.get("entities") or {}
        if entities.get("use"):
            spec["scenario"] = entities["use"]  # NLU uses are the pricing scenarios
        elif entities.get("family") and entities["family"] != spec.get("family"):
            spec.pop("scenario", None)  # "mejor isopanel": the new family's own use, not the old one
        for key in SPEC_ENTITIES:
            if key in entities:
                spec[key] = entities[key]
                spec_changed = True
        for key, value in spec_extras(message.text).items():
            spec[key] = value
            spec_changed = True
        if entities.get("shipping") is False:
            spec.pop("zone", None)
        if "width_m" in entities:
            spec.pop("panel_count", None)
        if "panel_count" in entities:
            spec.pop("width_m", None)
        if "thickness_mm" not in entities and spec.get("family"):
            said = _thickness_said(message.text, spec=spec, tenant=conversation.tenant)
            if said:
                spec["thickness_mm"], spec_changed = said, True
        if entities.get("name") and not conversation.customer.name:
            plan.customer_name = entities["name"]
    dialogue["spec"] = spec
    dialogue["last_intents"] = intents

    if "opt_out" in intents:
        plan.intent, plan.opt_out, plan.text = "opt_out", True, REPLIES["opt_out"]
        return plan
    if conversation.state == Conversation.State.HANDOFF:
        plan.intent = "handoff_quiet"  # staff have it: the bot stays quiet
        return plan
    if conversation.customer.opted_out:
        # nothing more is sent after the confirmation; a person decides what to answer
        plan.intent, plan.staff_task = "opted_out_quiet", "opted_out_wrote"
        return plan
    offered = _options_offered(conversation=conversation, dialogue=dialogue)
    if offered and not {"human_handoff", "complaint", "decline_quote"} & set(intents):
        chosen = _option_chosen(messages=messages, intents=intents, offered=offered)
        if chosen:
            thickness = next(t for t, pk in offered.items() if pk == chosen)
            spec["thickness_mm"] = thickness  # later changes ("en gris") re-quote the one chosen
            plan.intent, plan.quote_status, plan.decided_quote_id = "accept_quote", Quote.Status.ACCEPTED, chosen
            plan.staff_task = "accept_quote"
            plan.text = (
                f"¡Buenísimo! Avanzamos con la opción de {thickness} mm. "
                "Un vendedor te contacta para coordinar el pago y la entrega."
            )
            return plan
        if "accept_quote" in intents and len(offered) > 1:
            plan.intent = "accept_quote"
            plan.text = f"¡Genial! ¿Con cuál avanzamos: {' o '.join(f'{t} mm' for t in sorted(offered))}?"
            return plan
    for intent in ("human_handoff", "complaint", "accept_quote", "decline_quote"):
        if intent in intents:
            plan.intent, plan.text = intent, REPLIES[intent]
            plan.staff_task = intent if intent in STAFF_TASK_TITLES else ""
            if intent in STAFF_INTENTS:
                plan.state = Conversation.State.HANDOFF
            if intent in ("accept_quote", "decline_quote"):
                plan.quote_status = Quote.Status.ACCEPTED if intent == "accept_quote" else Quote.Status.REJECTED
            return plan
    if ("payment_notice" in intents or "promise_to_pay" in intents) and _payment_plan(
        plan, conversation=conversation, messages=messages, intents=intents
    ):
        return plan
    if "quote_request" in intents or (spec_changed and spec):
        plan.intent = "quote_request"
        options = [t for message in messages for t in thickness_options(message.text)]
        if len(options) >= 2 and not spec.get("thickness_mm"):
            spec["thickness_mm"] = options[0]
        question = _spec_question(spec, conversation)
        if question:
            plan.text = question
        elif len(options) >= 2:
            plan.option_specs = [{**spec, "thickness_mm": t} for t in dict.fromkeys(options)]
        else:
            plan.quote_spec = spec
        return plan
    last = next((i for i in reversed(intents) if i != "other"), intents[-1] if intents else "other")
    plan.intent = last
    plan.text = REPLIES.get(last, REPLIES["other"])
    plan.staff_task = last if last in STAFF_TASK_TITLES else ""
    if last in STAFF_INTENTS:
        plan.state = Conversation.State.HANDOFF
    if last == "greeting":
        if dialogue.get("greeted"):  # the introduction once per conversation
            plan.text = "¡Hola de nuevo! ¿En qué te puedo ayudar?"
        dialogue["greeted"] = True
    if last == "other":
        no_text = [NO_TEXT_REPLIES.get((m.raw_payload or {}).get("type")) for m in messages if not m.text.strip()]
        said = [plain(m.text) for m in messages if m.text.strip()]
        if said and all(THANKS_RE.match(t) for t in said) and any(THANKS_WORD_RE.search(t) for t in said):
            plan.text = REPLIES["thanks"]
        elif not said:  # only voice notes, locations, photos without a caption...
            reply = next((r for r in no_text if r), None)
            plan.text = REPLIES[reply] if reply else ""
    return plan


# A short answer naming a thickness: "de 150", "150 mm", "mejor en 100", "que sea de 200".
THICKNESS_SAID_RE = re.compile(
    r"^\W*(?:(?:y|pero|mejor|dale|ok|bueno|si|que\s+sea|quiero|queria|prefiero|lo\s+quiero|la\s+quiero|el|la|de|del"
    r"|en|espesor|con|cambialo\s+a|cambiala\s+a|pasalo\s+a)\s+)*(\d{2,3})\s*(mm|milimetros)?\W*$"
)
THICKNESS_CHANGE_RE = re.compile(r"\b(?:mejor|prefiero|que\s+sea|cambialo|cambiala|pasalo|espesor)\b")
# "mejor cotizame en 150": a thickness asked for within a sentence that asks for a change; the
# number must not be a distance, a time, money or a measure ("a 100 km", "de 100 dias").
_NOT_A_THICKNESS = (
    r"(?![\d.,])(?!\s*(?:[x×*]|por\b|m\b|mts?\b|mtrs?\b|metros|m2|cm|km|kms|kilometros|cuadras|dias?\b|horas?\b|hs\b"
    r"|minutos|semanas|meses|anos|paneles|unidades|dolares|usd|pesos|%|y\s+(?:en\s+)?\d))"
)
THICKNESS_IN_SENTENCE_RE = re.compile(
    r"\b(?:mejor|prefiero|que\s+sea|cambialo|cambiala|pasalo|cotizame|cotizalo|cotizala)\b"
    r"(?:(?!descuento|rebaja|precio|\bkm\b)[^.?!]){0,25}?"
    rf"\b(?:en|de|a)\s+(\d{{2,3}})\s*(mm|milimetros)?{_NOT_A_THICKNESS}"
)
# "y en 150?", "y de 200 cuanto sale?": the same request again in another thickness, said alone.
THICKNESS_AGAIN_RE = re.compile(
    rf"(?:^|[,.;!?]\s*)(?:y|tambien)\s+(?:en|de)\s+(\d{{2,3}})\s*(mm|milimetros)?{_NOT_A_THICKNESS}"
    r"\s*(?:[?!.,]|$|cuanto|que\s+(?:sale|precio)|como\s+(?:queda|sale))"
)


def _thickness_said(text: str, *, spec: dict[str, Any], tenant) -> int | None:
    """A thickness the family is made in, said on its own: the answer to "¿de qué espesor?", or a
    change of thickness when said as one ("mejor de 150"), never a bare number in another sense
    ("50" answering how many panels)."""
    if len(thickness_options(text)) > 1:
        return None  # alternatives asked for: each is priced on its own
    lowered = plain(text)
    match = (
        THICKNESS_SAID_RE.match(lowered)
        or THICKNESS_IN_SENTENCE_RE.search(lowered)
        or THICKNESS_AGAIN_RE.search(lowered)
    )
    if not match:
        return None
    value = int(match.group(1))
    known = catalog_snapshot(tenant=tenant).thicknesses(spec["family"])
    current = spec.get("thickness_mm")
    asked = not current or current not in known  # the pending question is the thickness
    said_as_change = match.re is not THICKNESS_SAID_RE or THICKNESS_CHANGE_RE.search(lowered)
    if value in known and (asked or match.group(2) or said_as_change):
        return value
    return None


OPTIONS_RE = re.compile(
    r"\ben\s+(\d{2,3})\s*(?:mm)?\s*(?:,|y|o|u)\s*(?:en\s+|de\s+)?(\d{2,3})(?:\s*(?:,|y|o)\s*(?:en\s+)?(\d{2,3}))?"
)


CORNERS_RE = re.compile(r"\b(\d{1,2})\s+(?:esquinas|esquineros)\b")
ROOM_RE = re.compile(r"\b(\d+(?:[.,]\d+)?)\s*x\s*(\d+(?:[.,]\d+)?)\s*x\s*(\d+(?:[.,]\d+)?)")


def _number(text: str) -> int | float:
    value = float(text.replace(",", "."))
    return int(value) if value.is_integer() else value


def spec_extras(text: str) -> dict[str, Any]:
    """What the pricing needs beyond the NLU's entities: a wall's outside corners ("4 esquinas")
    and a cold room's three measures ("camara de 4 x 3 x 2,6": length, width, height)."""
    lowered = text.lower()
    extras: dict[str, Any] = {}
    corners = CORNERS_RE.search(lowered)
    if corners:
        extras["corners"] = int(corners.group(1))
    room = ROOM_RE.search(lowered)
    if room:
        length, width, height = (_number(g) for g in room.groups())
        extras.update(length_m=length, width_m=width, height_m=height)
    return extras


def thickness_options(text: str) -> list[int]:
    """'cotizame en 100 y en 150' -> [100, 150]: the customer asks for alternatives."""
    match = OPTIONS_RE.search(text.lower())
    return [int(g) for g in match.groups() if g] if match else []


def _spec_question(spec: dict[str, Any], conversation: Conversation) -> str:
    """One clear question for the first thing the pricing still needs, or '' when complete."""
    catalog = catalog_snapshot(tenant=conversation.tenant)
    family = spec.get("family")
    if not family:
        scenario = spec.get("scenario")
        options = FAMILIES_FOR_USE.get(scenario, "Isodec EPS (techos), Isopanel EPS (paredes) o Isofrig PIR (cámaras)")
        return f"¡Dale! ¿Qué panel te interesa? Tenemos {options}."
    if not spec.get("thickness_mm") or spec["thickness_mm"] not in catalog.thicknesses(family):
        name, thicknesses = FAMILY_NAMES.get(family, family), _alternatives_es(catalog.thicknesses(family))
        if spec.get("thickness_mm"):
            return f"El {name} no viene en {spec['thickness_mm']} mm; lo tenemos en {thicknesses} mm. ¿Cuál preferís?"
        return f"¿De qué espesor querés el {name}? Lo tenemos en {thicknesses} mm."
    try:
        quote_spec_parse(data=spec, catalog=catalog)
    except QuoteSpecError as error:
        # a measure still missing gets its question; any other error is explained when pricing
        return QUESTIONS.get(error.field, "") if "is required" in error.message else ""
    return ""


def _alternatives_es(values) -> str:
    """[100, 150, 200] -> '100, 150 o 200'."""
    words = [str(v) for v in values]
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} o {words[-1]}"


def _turn_commit(
    *, conversation: Conversation, token: str, messages: list[Message], plan: Plan, result: TurnResult, base_url: str
) -> None:
    now = timezone.now()
    for message in messages:
        parsed = plan.nlu[message.pk]
        if not Message.objects.filter(pk=message.pk, processed_at__isnull=True).update(
            processed_at=now, intent=parsed["intent"], entities=parsed.get("entities") or {}
        ):
            raise TurnRaced(f"message {message.pk} was answered by another turn")
    result.answered.extend(m.pk for m in messages)
    updates: dict[str, Any] = {"dialogue": plan.dialogue}
    if plan.state:
        updates["state"] = plan.state
    if plan.opt_out:
        Customer.objects.filter(pk=conversation.customer_id).update(opted_out=True, opted_out_at=now)
        followups_stop(customer_id=conversation.customer_id, reason="the customer opted out")
    decided = plan.decided_quote_id or plan.dialogue.get("last_quote_id")
    if plan.quote_status and decided:
        Quote.objects.filter(pk=decided, status__in=[Quote.Status.SENT, Quote.Status.DRAFT]).update(
            status=plan.quote_status, decided_at=now
        )
        followups_stop(quote_ids=[decided], reason=f"the quote was {plan.quote_status}")
        group = plan.dialogue.pop("last_option_group", None)  # decided: no more choosing among them
        if group:  # the alternatives sent with it: declined together, or not chosen
            others = Quote.objects.filter(conversation=conversation, option_group=group, status=Quote.Status.SENT)
            rejected = list(others.exclude(pk=decided).values_list("pk", flat=True))
            if rejected:
                Quote.objects.filter(pk__in=rejected).update(status=Quote.Status.REJECTED, decided_at=now)
                accepted = plan.quote_status == Quote.Status.ACCEPTED
                reason = "another option was chosen" if accepted else f"the quote was {plan.quote_status}"
                followups_stop(quote_ids=rejected, reason=reason)
            plan.dialogue["last_quote_id"] = decided
    if plan.customer_name:
        Customer.objects.filter(pk=conversation.customer_id, name="").update(name=plan.customer_name[:200])
        conversation.customer.name = plan.customer_name
    if plan.staff_task:
        _staff_task_for(conversation=conversation, kind=plan.staff_task, messages=messages, quote_id=decided)
    if plan.promise:
        dunning_promise_record(invoice_id=plan.promise[0], promised_date=plan.promise[1], message_id=messages[-1].pk)
    if plan.payment_claim:
        receipt = receipt_find(conversation_id=conversation.pk, messages=messages, now=now)
        dunning_payment_claimed(invoice_id=plan.payment_claim, receipt=receipt, message_id=messages[-1].pk)
    text, document_url = plan.text, ""
    if plan.option_specs:
        result.options = plan.option_specs
        result.option_group = f"opt-{messages[-1].pk}"
        result.source_message_id = messages[-1].pk
        result.answers = [messages[0].pk, messages[-1].pk]
    if plan.quote_spec is not None:
        text, document_url, quote = _quote_reply(
            conversation=conversation, spec=plan.quote_spec, source=messages[-1], base_url=base_url
        )
        if quote is not None:
            plan.dialogue["last_quote_id"] = quote.pk
            result.quotes.append(quote.pk)
    # the turn's claim is let go with what it decided, if it is still this turn's
    if not Conversation.objects.filter(pk=conversation.pk, turn_owner=token).update(
        **updates, turn_owner="", turn_started_at=None
    ):
        raise TurnLost("this turn ran too long and another took the conversation over: it answers, or a retry")
    if text:
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


def _staff_task_for(*, conversation: Conversation, kind: str, messages: list[Message], quote_id: int | None) -> None:
    """What the reply promised a person: one open task per conversation and kind, the customer's
    later words added to it ("dale, avancemos" twice is one task); a new one once it is done.
    Keyed by the turn's last message, so a turn that runs twice opens one."""
    words = "\n".join(m.text for m in messages if m.text)
    title = STAFF_TASK_TITLES[kind]
    open_task = StaffTask.objects.filter(
        conversation=conversation, kind=StaffTask.Kind.HANDOFF, title=title, status=StaffTask.Status.OPEN
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
        quote_id=quote_id if kind == "accept_quote" else None,
    )


def _quote_reply(
    *, conversation: Conversation, spec: dict[str, Any], source: Message, base_url: str
) -> tuple[str, str, Quote | None]:
    catalog = catalog_snapshot(tenant=conversation.tenant)
    try:
        parsed = quote_spec_parse(data=spec, catalog=catalog)
        priced = quote_price(spec=parsed, catalog=catalog)
    except QuoteSpecError as error:
        return (f"Para cotizarte: {_spec_error_es(error, spec, catalog)}", "", None)
    quote = quote_create(
        tenant=conversation.tenant,
        result=priced,
        customer=conversation.customer,
        conversation=conversation,
        source_message=source,
        sent=True,  # unless it needs approval: the reply below sends it
    )
    name = (conversation.customer.name or "").split(" ")[0]
    greeting = f"¡Gracias, {name}!" if name else "¡Gracias!"
    if quote.status == Quote.Status.PENDING_APPROVAL:
        # no price and no document before a person approves it
        summary = quote_summary_es(parsed.as_dict())
        return (
            f"{greeting} Tomé tu pedido ({summary[0].lower()}{summary[1:]}). Por el monto, un vendedor revisa "
            f"la cotización {quote.number} y te la mandamos a la brevedad.",
            "",
            quote,
        )
    missing = priced.missing_for_full_quote
    text, pdf_url = quote_sent_text(quote=quote, base_url=base_url, greeting=greeting, lines=priced.lines)
    followup_sequence_start(quote=quote)
    if priced.estimate and missing:
        text = text.removesuffix("\n¿Querés que avancemos?")
        text += f"\nEs una estimación por m2. Para la cotización exacta: {QUESTIONS[missing[0]]}"
    return text, pdf_url, quote


def quote_sent_text(*, quote: Quote, base_url: str, greeting: str, lines=None) -> tuple[str, str]:
    """The message that sends a quote: lines, totals, validity, the PDF link. Marks a draft sent
    (a quote stored as sent is the caller's to follow up).
    `lines`: the priced lines the quote was just stored with (read from it otherwise)."""
    pdf_url = f"{base_url.rstrip('/')}{quote_public_path(quote)}"
    summary = quote_summary_es(quote.spec)
    lines = "\n".join(
        f"• {quantity_uy(line.quantity)} {UNIT_LABELS.get(line.unit, line.unit)} {line.description}: "
        f"{money_uy(line.amount)}"
        for line in (quote.lines.all() if lines is None else lines)
    )
    text = (
        f"{greeting} Te paso la cotización {quote.number}: {summary[0].lower()}{summary[1:]}.\n{lines}\n"
        f"Subtotal USD {money_uy(quote.subtotal)} + IVA USD {money_uy(quote.iva)} = "
        f"*Total USD {money_uy(quote.total)}*.\n"
        f"Válida hasta el {quote.valid_until.strftime('%d/%m/%Y')}. PDF: {pdf_url}\n¿Querés que avancemos?"
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
    text, pdf_url = quote_sent_text(
        quote=quote, base_url=base_url, greeting="¡Listo! Un vendedor aprobó tu cotización."
    )
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
        return {"error": _spec_error_es(error, spec, catalog), "thickness_mm": spec.get("thickness_mm")}
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
    if not _hold_take(conversation_id, token, tenant_id=tenant_id):
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
        _hold_release(conversation_id, token)


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
        text = "No pude cotizar esas opciones. " + " ".join(dict.fromkeys(o.get("error", "") for o in outcomes))
    else:
        rows = []
        for quote in quotes:
            if quote.status == Quote.Status.PENDING_APPROVAL:
                rows.append(f"• {quote_summary_es(quote.spec)}: por el monto la revisa un vendedor y te la mandamos")
                continue
            rows.append(
                f"• {quote_summary_es(quote.spec)}: *USD {money_uy(quote.total)}* IVA incl. — "
                f"{base_url.rstrip('/')}{quote_public_path(quote)}"
            )
        # an alternative that could not be priced is said, not dropped
        rows += [f"• En {o.get('thickness_mm')} mm: {o['error']}" for o in outcomes if "error" in o]
        several = len(quotes) > 1
        text = (
            (f"Te paso las {len(quotes)} opciones que pediste:\n" if several else "Te paso la cotización:\n")
            + "\n".join(rows)
            + ("\n¿Con cuál avanzamos?" if several else "\n¿Querés que avancemos?")
        )
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


def _spec_error_es(error: QuoteSpecError, spec: dict[str, Any], catalog) -> str:
    """The pricing's refusal, told to the customer."""
    item = catalog.items.get(f"{spec.get('family')}_{spec.get('thickness_mm')}")
    if error.code == "too_small":
        return "con esas medidas no me da ni un panel. ¿Me las pasás en metros? (por ejemplo 6 x 4,5)"
    if error.field == "thickness_mm" and spec.get("family") in catalog.families():
        return f"ese espesor no viene; lo tenemos en {_alternatives_es(catalog.thicknesses(spec['family']))} mm."
    if error.field == "color" and item and item.colors:
        colors = _alternatives_es(c.lower() for c in item.colors)
        return f"ese color no viene en ese panel; lo tenemos en {colors}. ¿En cuál lo querés?"
    return {
        "length_m": "los paneles llegan hasta 14 m de largo. ¿Me confirmás el largo?",
        "width_m": "el ancho va hasta 200 m por cotización. ¿Me confirmás el ancho?",
        "run_m": "hasta 200 m lineales por cotización. ¿Me confirmás los metros de pared?",
        "panel_count": "hasta 500 paneles por cotización. ¿Me confirmás la cantidad?",
    }.get(error.field, "¿me confirmás las medidas y el panel?")


def task_cancel(*, task: AgentTask) -> bool:
    """Cancel a task that has not finished (jobs' task_cancel); a customer's message whose turn is
    cancelled is withdrawn with it, so no later turn or sweep answers it."""
    if task.task_type != "conversation.process_message":
        return jobs_task_cancel(task=task)
    return jobs_task_cancel(task=task, also=lambda: message_withdraw(message_id=task.payload.get("message_id")))


def message_withdraw(*, message_id: int | None) -> bool:
    """An inbound message whose processing was cancelled: marked answered and cancelled, so no
    turn and no sweep answers it later. A message already answered stays as it is."""
    return bool(
        Message.objects.filter(pk=message_id, direction=Message.Direction.INBOUND, processed_at__isnull=True).update(
            processed_at=timezone.now(), delivery_status=Message.DeliveryStatus.CANCELLED
        )
    )


def messages_stranded(*, now, older_than: timedelta) -> tuple[list[tuple[int, int, int]], list[tuple[int, int]]]:
    """Work a crash left behind, with no task of its own still alive: conversations whose inbound
    messages nobody answered, as (tenant_id, conversation_id, last message id), and replies never
    sent, as (tenant_id, message_id)."""
    active = AgentTask.Status.PENDING, AgentTask.Status.QUEUED, AgentTask.Status.RUNNING
    cutoff = now - older_than
    unanswered: dict[int, tuple[int, int, int]] = {}
    for tenant_id, conversation_id, message_id in (
        Message.objects.filter(direction=Message.Direction.INBOUND, processed_at__isnull=True, created_at__lt=cutoff)
        # nothing to answer in a photo or a document without a caption; a voice note is answered
        .exclude(Q(text="") & ~Q(raw_payload__type__in=list(NO_TEXT_REPLIES)))
        .order_by("pk")
        .values_list("tenant_id", "conversation_id", "pk")
    ):
        unanswered[conversation_id] = (tenant_id, conversation_id, message_id)
    busy = (
        set(
            AgentTask.objects.filter(
                task_type="conversation.process_message",
                status__in=active,
                payload__conversation_id__in=list(unanswered),
            ).values_list("payload__conversation_id", flat=True)
        )
        if unanswered
        else set()
    )
    turns = [entry for conversation_id, entry in unanswered.items() if conversation_id not in busy]

    unsent = list(
        Message.objects.filter(
            direction=Message.Direction.OUTBOUND, delivery_status=Message.DeliveryStatus.PENDING, created_at__lt=cutoff
        ).values_list("tenant_id", "pk")
    )
    sending = (
        set(
            AgentTask.objects.filter(
                task_type="outbound.send_message", status__in=active, payload__message_id__in=[pk for _, pk in unsent]
            ).values_list("payload__message_id", flat=True)
        )
        if unsent
        else set()
    )
    return turns, [(tenant_id, pk) for tenant_id, pk in unsent if pk not in sending]


def messages_given_up(*, max_attempts: int) -> list[int]:
    """Outbound messages still pending after `max_attempts` sends (the channel kept failing):
    marked failed, each with a task for staff to reach the customer another way."""
    stuck = list(
        Message.objects.filter(
            direction=Message.Direction.OUTBOUND,
            delivery_status=Message.DeliveryStatus.PENDING,
            send_attempts__gte=max_attempts,
        ).select_related("conversation__customer")
    )
    given_up = []
    for message in stuck:
        if Message.objects.filter(pk=message.pk, delivery_status=Message.DeliveryStatus.PENDING).update(
            delivery_status=Message.DeliveryStatus.FAILED, error_code="gave_up"
        ):
            outbound_failed(message=message, error_code="gave_up", detail=f"{message.send_attempts} sends failed")
            given_up.append(message.pk)
    return given_up
