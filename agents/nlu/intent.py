"""The intent: the rules' scores (rules.py, intents.toml), a promise to pay, and the decision."""

from __future__ import annotations

import re
from typing import Any

from agents.nlu.dates import MONTH_ALT, WEEKDAY_ALT
from agents.nlu.rules import CONDITION, RULES
from agents.nlu.vocabulary import NLU_INTENTS

# A promise needs a payment verb in the present/future and a when: "el viernes te deposito".
_PAY_FUTURE_RE = re.compile(
    r"(?<!\bel )(?<!\bdel )(?<!\bal )(?<!\bun )(?<!\bmi )(?<!\bde )(?<!\bmercado )(?<!\bcomo )"
    r"\b(?:deposito|depositamos|transfiero|transferimos|pago|pagamos|abono|abonamos|giro|giramos|cancelo|cancelamos"
    r"|depositare|transferire|pagare|abonare|depositaremos|transferiremos|pagaremos|abonaremos|cancelaremos)\b"
    r"|\b(?:sera|seran|va\s+a\s+ser|van\s+a\s+ser|quedara|queda)\s+(?:abonad[oa]s?|pagad[oa]s?|depositad[oa]s?"
    r"|transferid[oa]s?|cancelad[oa]s?)\b"
    r"|\b(?:voy|vamos)\s+a\s+(?:pagar|depositar|transferir|abonar|girar|cancelar"
    r"|hacer\s+(?:la|el)\s+(?:transferencia|deposito|pago|giro))\b"
    r"|\bhago\s+(?:la|el)\s+(?:transferencia|deposito|pago|giro)\b"
    r"|\b(?:paso|pasamos|pasaria)\s+a\s+(?:pagar|depositar|abonar)\b"
    r"|\b(?:paso|pasamos|voy|vamos)\s+(?:por|hasta)\s+\w+(?:\s+\w+)?\s+a\s+(?:pagar|depositar|abonar)\b"
    r"|\b(?:pago|transferencia|deposito|giro)\s+(?:se\s+)?(?:realizara|efectuara|hara|haremos|realizaremos"
    r"|efectuaremos)\b|\b(?:realizaremos|efectuaremos|haremos)\s+(?:el|la)\s+(?:pago|transferencia|deposito)\b"
    r"|\b(?:deposito|transferencia|pago|giro)\b.{0,30}\b(?:lo|la)\s+(?:hago|hacemos|realizo|realizamos)\b"
    r"|\b(?:te|les|le)\s+(?:lo\s+)?(?:pago|deposito|transfiero|abono)\b"
)
# "te los paso el miercoles": handing something over, a promise when it is money
_HAND_OVER_RE = re.compile(r"\b(?:te|les|le)\s+(?:lo|los|la|las)\s+(?:paso|pasamos|mando|mandamos|alcanzo|llevo)\b")
_MONEY_WORD_RE = re.compile(r"\b(?:debo|debemos|plata|pesos|dolares|usd|saldo|guita|deuda|factura)\b|u\$s|\$")
_DATE_MARK_RE = re.compile(
    rf"\b(?:hoy|manana|pasado\s+manana|(?:{WEEKDAY_ALT})|fin\s+de\s+mes|principios?\s+de\s+mes"
    rf"|semana\s+que\s+viene|proxima\s+semana|sin\s+falta|cuando\s+cobre|apenas\s+cobre|en\s+cuanto\s+cobre"
    rf"|(?:el|para\s+el|antes\s+del|hasta\s+el)\s+(?:dia\s+)?\d{{1,2}}|\d{{1,2}}\s*/\s*\d{{1,2}}"
    rf"|\d{{1,2}}\s+de\s+(?:{MONTH_ALT})|en\s+(?:\d+|unos|dos|tres|cuatro|cinco)\s+dias|esta\s+semana|este\s+mes)\b"
)

# Said of something bought from us: then a condition is a complaint even beside a new request.
_BOUGHT_RE = re.compile(
    r"\b(?:compre|compramos|me\s+vendieron|nos\s+vendieron|me\s+mandaron|nos\s+mandaron|me\s+entregaron"
    r"|nos\s+entregaron|les\s+compre|les\s+compramos|instalaron|colocaron|que\s+me\s+(?:vendieron|pusieron))\b"
)

_NEED_RE = re.compile(
    r"\b(?:necesito|necesitaria|necesitamos|preciso|precisaria|quiero|queria|quisiera|queremos|busco|buscaba"
    r"|me\s+interesa|me\s+interesaria|me\s+gustaria)\b"
)
# Tie-break: the more specific or more consequential intent wins.
PRIORITY = (
    "opt_out",
    "human_handoff",
    "complaint",
    "promise_to_pay",
    "payment_notice",
    "order_status",
    "postpone",
    "decline_quote",
    "accept_quote",
    "quote_request",
    "product_info",
    "greeting",
    "other",
)


def intent_scores(*, text: str) -> dict[str, int]:
    scores = dict.fromkeys(NLU_INTENTS, 0)
    condition = 0
    for rule in RULES:
        if rule.pattern.search(text):
            if rule.intent == CONDITION:
                condition += rule.weight
            else:
                scores[rule.intent] += rule.weight
    scores["complaint"] += condition
    scores[CONDITION] = condition  # not an intent: intent_decide may take it back
    if (_PAY_FUTURE_RE.search(text) or (_HAND_OVER_RE.search(text) and _MONEY_WORD_RE.search(text))) and (
        _DATE_MARK_RE.search(text)
    ):
        scores["promise_to_pay"] += 6
    elif re.search(r"\b(?:voy|vamos)\s+a\s+(?:pagar|depositar|transferir|abonar)\b", text):
        # Without a when it may just be a question about how to pay.
        scores["promise_to_pay"] += 2
    return scores


_PRODUCT_KEYS = ("family", "thickness_mm", "length_m", "width_m", "run_m", "area_m2", "panel_count")
_MEASURE_KEYS = ("length_m", "width_m", "run_m", "area_m2", "panel_count")


def intent_decide(*, scores: dict[str, int], text: str, entities: dict[str, Any]) -> tuple[str, float]:
    scores = dict(scores)
    has_product = any(key in entities for key in _PRODUCT_KEYS)
    if has_product and _NEED_RE.search(text):
        # "necesito isodec 100 para 6x4" asks for a price even without the word "precio".
        scores["quote_request"] += 3 if any(key in entities for key in _MEASURE_KEYS) else 2
        if not _BOUGHT_RE.search(text):
            # "se me llueve el techo, necesito isodec 100 6x4": what to fix, not a complaint
            scores["complaint"] -= scores.get(CONDITION, 0)
    ranked = sorted(NLU_INTENTS, key=lambda intent: (-scores[intent], PRIORITY.index(intent)))
    top, second = scores[ranked[0]], scores[ranked[1]]
    if top < 2 and has_product and (any(key in entities for key in _MEASURE_KEYS) or "?" not in text):
        # Bare product and measures ("isodec 100 tinglado 4x2,5 cuanto??") is a quote request; a
        # question about a product without measures ("el isofrig aguanta -25?") is not.
        return "quote_request", 0.6
    if top < 2 and has_product:
        return "product_info", 0.5
    if top <= 0:
        return "other", 0.3
    strength = 1 - 0.5 ** (top / 2)
    margin = (top - second) / top
    confidence = 0.3 + 0.69 * strength * (0.4 + 0.6 * margin)
    return ranked[0], round(min(max(confidence, 0.0), 0.99), 2)
