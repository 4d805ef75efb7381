"""What a quote includes beyond the panels: gutters asked for, drip edges, fixings or sealant left
out, a wall's corners, and the price list (the web's, when the customer asks for it)."""

from __future__ import annotations

import re
from typing import Any

from agents.nlu.text import NUMBER_WORDS

_GUTTER = r"canal(?:on|ones|eta|etas)|canel(?:eta|etas)|canaleton(?:es)?"
_DRIP = r"goteros?|gotero\s+(?:frontal|lateral)(?:es)?|cenefas?"
_FIXINGS = r"fijacion(?:es)?|tornill(?:os|eria)|kits?(?:\s+de\s+fijacion(?:es)?)?|bulones|ganchos"
_SEALANT = r"siliconas?|silisonas?|sellador(?:es)?|sellante"
_ACCESSORY = {"gutters": _GUTTER, "drip_edges": _DRIP, "fixings": _FIXINGS, "sealant": _SEALANT}
_ANY_ACCESSORY = "|".join(f"(?:{p})" for p in _ACCESSORY.values())

# "sin goteros ni silicona", "no necesito tornillos", "los goteros no": what follows (or comes
# right before "no") is left out, up to the end of the clause.
_LEFT_OUT_RE = re.compile(
    r"\b(?:sin|no\s+(?:quiero|necesito|preciso|precisamos|necesitamos|lleva|llevan|van|va|incluyas|incluyan"
    r"|incluir|hace\s+falta|hacen\s+falta|pongas|pongan|agregues|agreguen)|menos|saca(?:le|les|me)?|quita(?:le|les)?)\b"
    r"(?P<what>[^.;!?]*)"
)
_NOT_AFTER_RE = re.compile(
    rf"\b(?P<what>{_ANY_ACCESSORY})\s+no\b(?=\s*(?:$|[.,;!?]|(?:(?:los|las|lo|la)\s+)?(?:quiero|necesito|preciso"
    r"|pongas|incluyas|van|hacen\s+falta|lleva|llevan|precisamos|necesitamos)\b|(?:que\s+)?(?:ya\s+)?tengo\b))"
)
# A clause stops at what is asked for again: "sin goteros pero con canalones".
_CLAUSE_END_RE = re.compile(r"\b(?:con|pero|mas|y\s+con|agrega\w*|suma\w*|inclu\w*)\b")
# Gutters asked for: "con canalones", "agregale canaletas", "y canalon", "c/ canalon".
_WITH_RE = re.compile(
    rf"\b(?:con|agrega\w*|suma\w*|inclu\w*|lleva|llevaria|quiero|necesito|tambien|ademas)\s+"
    rf"(?:(?:el|la|los|las|un|una|sus|\w+\s+y)\s+)?(?:{_GUTTER})\b"
    rf"|\b(?:{_GUTTER})\s+(?:incluido|incluidos|tambien|si)\b"
)
_PRICE_LIST_WEB_RE = re.compile(
    r"\b(?:precios?|lista|tarifa|valor(?:es)?)\s+(?:de\s+)?(?:la\s+)?(?:pagina\s+)?web\b"
    r"|\b(?:el|lo|los)\s+(?:precio\s+)?(?:de\s+la\s+|que\s+(?:esta|figura|sale)\s+en\s+la\s+)(?:pagina\s+)?web\b"
    r"|\b(?:precio|lista)\s+(?:de\s+)?(?:internet|online)\b|\bweb\s+price\b|\ba\s+precio\s+(?:de\s+)?web\b"
)
_CORNERS_RE = re.compile(
    rf"\b(\d{{1,2}}|{'|'.join(w for w, n in NUMBER_WORDS.items() if 1 < n <= 12)})\s+"
    r"(?:esquinas?|esquineros?|esquinas?\s+exteriores|angulos?)\b"
)


# "Esquinas exteriores: 2"; "no tiene esquinas"
_CORNERS_LABEL_RE = re.compile(r"\besquin(?:as|eros)(?:\s+exteriores)?\s*:\s*(\d{1,2})\b")
_NO_CORNERS_RE = re.compile(r"\b(?:no\s+(?:tiene|tienen|lleva|llevan|hay)|sin)\s+esquin(?:as|eros)\b")


def extras_find(*, text: str) -> dict[str, Any]:
    """gutters, drip_edges, fixings, sealant, corners and price_list as said; absent when not said."""
    found: dict[str, Any] = {}
    for match in _LEFT_OUT_RE.finditer(text):
        clause = _CLAUSE_END_RE.split(match.group("what"), maxsplit=1)[0]
        for key, pattern in _ACCESSORY.items():
            if re.search(rf"\b(?:{pattern})\b", clause):
                found[key] = False
    for match in _NOT_AFTER_RE.finditer(text):
        for key, pattern in _ACCESSORY.items():
            if re.fullmatch(pattern, match.group("what")):
                found[key] = False
    if "gutters" not in found and _WITH_RE.search(text):
        found["gutters"] = True
    corners = _CORNERS_RE.search(text) or _CORNERS_LABEL_RE.search(text)
    if corners:
        raw = corners.group(1)
        found["corners"] = int(raw) if raw.isdigit() else NUMBER_WORDS[raw]
    elif _NO_CORNERS_RE.search(text):
        found["corners"] = 0
    if _PRICE_LIST_WEB_RE.search(text):
        found["price_list"] = "web"
    return found
