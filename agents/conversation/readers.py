"""What the conversation reads in a customer's own words beyond the NLU's entities: thanks and
nothing else, an option chosen, a thickness said on its own or as a change, alternatives asked
together, a wall's corners and a cold room's measures."""

from __future__ import annotations

import re
from typing import Any

from agents.quote import catalog_snapshot
from agents.text import plain

# "gracias!", "perfecto, muchas gracias 👍": thanks, nothing else. A bare "dale" or "ok" is not
# thanks (after a quote it may be a yes), nor is a lone "?".
_THANKS_WORDS = r"gracias|grac|graciass|agradezco|agradecido|agradecida"
THANKS_WORD_RE = re.compile(rf"\b(?:{_THANKS_WORDS})\b")
THANKS_RE = re.compile(
    rf"^(?:\W|(?:muchas|mil|{_THANKS_WORDS}|genial|perfecto|ok|oka|okey|dale"
    r"|barbaro|buenisimo|buenismo|joya|listo|bien|bueno|de\s+acuerdo|entendido|igualmente|saludos|un\s+abrazo"
    r"|abrazo|nomas|che|bo|ahi|va|por\s+todo|por\s+la\s+info)\b)*$"
)

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
