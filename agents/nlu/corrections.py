"""A value corrected as it is said, right away ("de 6 no de 7 metros", "6 x 7... perdón, 6,5 x 7")
or after a pause ("Deposité 15000 pesos... no, perdón, 18000", "la cotización 1045. Perdón, la
1054", "6 chapas de 2,5 m, a no, pará, mejor 7 paneles"): the value said after the correction takes
the place of the one it corrects, so every extractor reads the message as meant."""

from __future__ import annotations

import re

# "de 6 no de 7 metros", "de 50 no perdon de 100", "150... no, mejor dejalo en 100": corrected right away
_CORRECTED_RE = re.compile(
    r"(?:\bde\s+)?\d+(?:,\d+)?\s*(?:mm|metros?|mts?|m)?\s*[.…]*\s*,?\s+no\s*,?\s+(?:perdon\s*,?\s*|mejor\s+|digo\s+|es\s+)?"
    r"(?:dejalo\s+en\s+|ponelo\s+en\s+|que\s+sea\s+)?(?=(?:de\s+|en\s+)?\d)"
)
# "6 x 7... perdon, 6,5 x 7": a pair of measures said again, corrected
_CORRECTED_PAIR_RE = re.compile(
    r"\d+(?:,\d+)?\s*x\s*\d+(?:,\d+)?\s*[.…]*\s*,?\s*(?:no|perdon|mejor|digo)\s*[,.]?\s*(?=\d+(?:,\d+)?\s*x\s*\d)"
)
# What a customer says when they correct themselves after a pause.
CORRECTION_RE = re.compile(
    r"(?:\.{2,}|…)\s*,?\s*(?:no|perdon|bueno|mejor|digo|a\s+no)\b[\s,.]*(?:perdon\b[\s,.]*)?"
    r"|\bperdon\s*[,.]\s*(?:me\s+(?:equivoque|confundi)\s*[,.]?\s*)?|\bme\s+(?:equivoque|confundi)\b[\s,.]*"
    r"|\ba\s+no\s*,?\s*para\b[\s,.]*(?:mejor\s+)?|\bmejor\s+dicho\b[\s,.]*"
)
_NUMBER = r"\d+(?:,\d+)?"
# The number said after the correction, with what it counts: "son 470 de largo", "la 1054", "7 paneles".
_SAID_AGAIN_RE = re.compile(
    rf"(?:(?:son|es|era|eran|el|la|de|en|mejor|ponele|para|pera|espera|perdon)[\s,]+)*({_NUMBER})\s*([a-z]*)(?:\s+(largo|ancho|alto|altura)\b)?"
)
# Two measures said as a pair: "450 cm x 320 cm"; "de largo" corrects the first, "de ancho" the second.
_PAIR_RE = re.compile(rf"(?<![\d,])({_NUMBER})\s*(?:cm|m|mts)?\s*x\s*({_NUMBER})")
_KINDS = {
    "count": r"paneles|panel|chapas|chapa|placas|unidades|p",
    "money": r"pesos|dolares|dolar|usd|u\$s",
    "length": r"m|metros|metro|mts|mt|cm|de",
    "thickness": r"mm|milimetros",
}


def _kind(unit: str) -> str | None:
    return next((kind for kind, words in _KINDS.items() if unit and re.fullmatch(words, unit)), None)


def _corrected_span(*, text: str, kind: str | None, label: str | None) -> tuple[int | None, int | None]:
    """Where the number a correction corrects is, in the text before it: the side of a pair its
    label names, else the last number of its kind, else the last number."""
    pairs = list(_PAIR_RE.finditer(text))
    if label and pairs:
        return pairs[-1].span(2 if label == "ancho" else 1)
    before = list(re.finditer(rf"(?<![\d,])({_NUMBER})\s*([a-z]*)", text))
    same = [m for m in before if kind and _kind(m.group(2)) == kind] or before
    return same[-1].span(1) if same else (None, None)


def corrections_apply(*, text: str) -> str:
    """`text` (normalised, numbers in digits) with each corrected number replaced by the one that
    corrects it, and the correction itself taken out."""
    text = _CORRECTED_RE.sub("", _CORRECTED_PAIR_RE.sub("", text))
    for marker in reversed(list(CORRECTION_RE.finditer(text))):
        again = _SAID_AGAIN_RE.match(text, marker.end())
        if not again:
            continue
        value, kind, label = again.group(1), _kind(again.group(2)), again.group(3)
        start, end = _corrected_span(text=text[: marker.start()], kind=kind, label=label)
        if start is None:
            continue
        text = text[:start] + value + text[end : marker.start()] + " " + text[again.end() :]
    return text


def said_after_correction(*, text: str) -> str | None:
    """What follows the last correction, when there is one: "flete a carrasco... bueno, paso
    carrasco" -> "paso carrasco"."""
    markers = list(CORRECTION_RE.finditer(text))
    return text[markers[-1].end() :] if markers else None
