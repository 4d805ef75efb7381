"""Readers of a reply within a dialogue the agents started: what a customer's answer says about
the question it answers (paid or not, thanks and nothing else, an option chosen, a thickness said
on its own or as a change, alternatives asked together, a cold room's measures said alone). The NLU reads a message alone; these read it in context."""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

from agents.text import plain

# "ya pagué", "te transferí", "te paso el comprobante": said paid, not asking how to pay
PAID_RE = re.compile(
    r"\b(?:pague|pagamos|pagado|transferi|transferimos|transferido|deposite|depositamos|depositado|abone|abonamos"
    r"|gire|giramos|hice\s+(?:la|el)\s+(?:transferencia|deposito|pago)|comprobante|recibo)\b"
)


def says_paid(text: str) -> bool:
    """The customer says they paid (or sends the proof), rather than asking how to pay."""
    return bool(PAID_RE.search(plain(text)))


# "gracias!", "perfecto, muchas gracias 👍": thanks, nothing else. A bare "dale" or "ok" is not
# thanks (after a quote it may be a yes), nor is a lone "?".
_THANKS_WORDS = r"gracias|grac|graciass|agradezco|agradecido|agradecida"
THANKS_WORD_RE = re.compile(rf"\b(?:{_THANKS_WORDS})\b")
THANKS_RE = re.compile(
    rf"^(?:\W|(?:muchas|mil|{_THANKS_WORDS}|genial|perfecto|ok|oka|okey|dale"
    r"|barbaro|buenisimo|buenismo|joya|listo|bien|bueno|de\s+acuerdo|entendido|igualmente|saludos|un\s+abrazo"
    r"|abrazo|nomas|che|bo|ahi|va|por\s+todo|por\s+la\s+info)\b)*$"
)

# words that choose among alternatives offered: "la de 150", "me quedo con la de 100"
CHOICE_RE = re.compile(
    r"\b(?:la|el|opcion|me quedo|quedamos|vamos|avancemos|avanzamos|prefiero|quiero|elijo|confirmo|dale)\b"
)


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


def thickness_said(text: str, *, known: Collection[int], current: int | None) -> int | None:
    """A thickness the family is made in (`known`), said on its own: the answer to "¿de qué
    espesor?", or a change of `current` when said as one ("mejor de 150"), never a bare number in
    another sense ("50" answering how many panels)."""
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
    asked = not current or current not in known  # the pending question is the thickness
    said_as_change = match.re is not THICKNESS_SAID_RE or THICKNESS_CHANGE_RE.search(lowered)
    if value in known and (asked or match.group(2) or said_as_change):
        return value
    return None


OPTIONS_RE = re.compile(
    r"\ben\s+(\d{2,3})\s*(?:mm)?\s*(?:,|y|o|u)\s*(?:en\s+|de\s+)?(\d{2,3})(?:\s*(?:,|y|o)\s*(?:en\s+)?(\d{2,3}))?"
)


ROOM_RE = re.compile(r"\b(\d+(?:[.,]\d+)?)\s*x\s*(\d+(?:[.,]\d+)?)\s*x\s*(\d+(?:[.,]\d+)?)")


def _number(text: str) -> int | float:
    value = float(text.replace(",", "."))
    return int(value) if value.is_integer() else value


def room_measures(text: str) -> dict[str, Any]:
    """A cold room's three measures said alone, in a dialogue already about the room ("4 x 3 x 2,6":
    length, width, height), where the message by itself does not say it is a room."""
    room = ROOM_RE.search(text.lower())
    if not room:
        return {}
    length, width, height = (_number(g) for g in room.groups())
    return {"length_m": length, "width_m": width, "height_m": height}


def thickness_options(text: str) -> list[int]:
    """'cotizame en 100 y en 150' -> [100, 150]: the customer asks for alternatives."""
    match = OPTIONS_RE.search(text.lower())
    return [int(g) for g in match.groups() if g] if match else []


def thanks_only(said: list[str]) -> bool:
    """'gracias!', 'perfecto, muchas gracias': thanks and nothing else, in every message."""
    return bool(said) and all(THANKS_RE.match(t) for t in said) and any(THANKS_WORD_RE.search(t) for t in said)


def choice_said(text: str) -> bool:
    """Words that choose one of the alternatives offered ("la de 150", "dale, me quedo con esa")."""
    return bool(CHOICE_RE.search(text))
