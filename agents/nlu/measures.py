"""Measures: thickness, length and width, linear meters, area and panel count."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from agents.nlu.text import LEN_UNIT, NUM, NUM_AFTER, NUMBER_WORDS, meters_from, number_clean, number_parse, text_mask

_AREA_RE = re.compile(
    rf"{NUM}\s*(?:m2|mt2|mts2|mtrs2|mtr2|m\^2|metros?\s*2|metros?\s+cuadrados?|mts?\s+cuadrados?"
    rf"|mtrs?\s+cuadrados?|m\s+cuadrados?)(?![a-z0-9])"
)
_DIM_LABEL = r"(?:de\s+)?(alto|altura|largo|ancho|lineales|lineal|caida|frente|recorrido|perimetro|fondo|profundidad)\b"
_TRIPLE_DIMS_RE = re.compile(
    rf"{NUM}\s*(?:{LEN_UNIT})?\s*(?:[x×*]|por\b)\s*{NUM_AFTER}\s*(?:{LEN_UNIT})?\s*(?:[x×*]|por\b)\s*{NUM_AFTER}"
    rf"\s*(?:{LEN_UNIT})?"
)
_DIMS_RE = re.compile(
    rf"{NUM}\s*(?:{LEN_UNIT})?\s*(?:{_DIM_LABEL})?\s*(?:[x×*]|por)\s*{NUM_AFTER}\s*(?:{LEN_UNIT})?\s*(?:{_DIM_LABEL})?"
)
_LABELED_RE = re.compile(
    rf"{NUM}\s*(?:{LEN_UNIT})?\s*{_DIM_LABEL}"
    rf"|\b(alto|altura|largo|ancho|frente|caida|fondo|profundidad)\s*(?:(?:total|libre|interior|a\s+cubrir|de\s+(?:la\s+)?pared)\s+)*"
    rf"(?:que\s+)?(?:(?:es|son|serian|seria|sera|tiene|tendria)\s+)?(?:de|:|=|total)?\s*(?:aprox\s+|como\s+)?{NUM}"
    rf"\s*(?:{LEN_UNIT})?"
    rf"|{NUM}\s*(ml)\b"
)

_FAMILY_TOKEN = (
    r"(?:\biso\s?-?[a-z]+|\bpanel(?:es)?\s+(?:de\s+|para\s+)?(?:camaras?|frio|frigorific\w*|eps|poliestireno|pir"
    r"|pur|poliuretano))"
)
_THICKNESS_AFTER_FAMILY_RE = re.compile(
    rf"{_FAMILY_TOKEN}(?:\s+(?:3\s?g|eps|pir|pur|comun|de|del|en|color|blanc[oa]s?|gris|roj[oa]s?|verdes?))*"
    rf"\s*(?:de\s+)?{NUM}\s*(mm|milimetros|cm|centimetros)?(?![a-z0-9])"
    r"(?!\s*(?:[x×*]\s*\d|por\s+\d|metros?\b|mts?\b|mtrs?\b|m\b|m2|mt2|ml\b|%|paneles|panel\b|p\b|dolares|pesos))"
)
# a family named right before: "isodec eps 150 x 5,80" is a thickness, then a length
_FAMILY_BEFORE_RE = re.compile(rf"{_FAMILY_TOKEN}(?:\s+(?:3\s?g|eps|pir|pur))?\s*(?:de\s+)?$")
MAX_PANEL_LENGTH_M = 14
_THICKNESS_ESPESOR_RE = re.compile(
    rf"\bespesor(?:es)?\s*(?:de\s+|:\s*)?{NUM}\s*(mm|cm)?(?![a-z0-9])"
    rf"|{NUM}\s*(mm|cm)?\s*de\s+espesor\b"
)
_THICKNESS_UNIT_RE = re.compile(rf"{NUM}\s*(mm|milimetros|cm|centimetros)(?![a-z0-9])")
KNOWN_THICKNESS = {30, 40, 50, 60, 75, 80, 100, 120, 150, 200, 250}
THICKNESS_BARE_RE = re.compile(
    r"\b(?:de|en)\s+(\d{2,3})(?!\w|[.,]\d)"
    r"(?!\s*(?:[x×*]\s*\d|por\s+\d|metros?\b|mts?\b|m\b|m2|%|paneles|p\b|dolares|pesos|dias|u\$s|usd))"
)

# "la de 150", "el de 100": a thickness chosen among those offered, no family said again
_THICKNESS_CHOSEN_RE = re.compile(
    r"\b(?:el|la)\s+(?:opcion\s+)?de\s+(\d{2,3})(?:\s*mm)?\b(?!\s*(?:[x×*]|m\b|metros|mts|%))"
)
# "de 150": a thickness said alone, the answer to which one
_THICKNESS_ALONE_RE = re.compile(
    r"^\W*(?:y\s+)?(?:(?:la|el)\s+)?(?:de|en)\s+(\d{2,3})\s*(?:mm)?(?=\W*$|\s*(?:\?|cuanto|como|que\s+precio))"
)
_COUNT_UNITS = r"(?:paneles|panel|chapas|chapa|placas|placa|unidades|unid|p)"
_COUNT_RE = re.compile(
    rf"(?<![\w.,])(\d+|{'|'.join(w for w in NUMBER_WORDS if NUMBER_WORDS[w] > 1)})\s*{_COUNT_UNITS}(?![\w/])"
)
_COUNT_BEFORE_FAMILY_RE = re.compile(r"(?<![\w.,])(\d{1,3})\s+(?=iso\s?-?[a-z]{3,})")
_COUNT_TAIL_RE = re.compile(
    rf"^(?:\s+|,|(?:de|del|en|color|eps|pir|pur|3\s?g|mm|blanc[oa]s?|gris|roj[oa]s?|verdes?|iso\w*)\b)*?"
    rf"\bde\s+{NUM}\s*(?:{LEN_UNIT})?(?![a-z0-9])"
)
_METERS_RE = re.compile(
    rf"{NUM}\s*(metros?|mtrs?|mts?|m)(?![a-z0-9])\.?"
    r"(?!\s*(?:2|cuadrad))(\s*(?:de\s+)?(?:pared|paredes|fachada|muro|cerramiento|frente)\b)?"
)
_WALL_RUN_RE = re.compile(
    rf"\b(?:pared|paredes|muro|medianera|cerramiento|fachada)\s+(?:\w+\s+)?de\s+{NUM}\s*(?:metros?|mts?|m)\b"
    r"(?!\s*(?:de\s+)?(?:alto|altura|largo|lineales))"
)
_CM_RE = re.compile(rf"{NUM}\s*(?:cm|centimetros?)(?![a-z0-9])")


@dataclass
class _Reading:
    """What has been read so far, and the text left to read (what was read is masked)."""

    text: str
    wall: bool
    room: bool = False  # a cold room: three measures, the height its own
    found: dict[str, Any] = field(default_factory=dict)

    def take(self, key: str, value: int | float) -> None:
        if key not in self.found and value > 0:
            self.found[key] = value

    def mask(self, start: int, end: int) -> None:
        self.text = text_mask(text=self.text, start=start, end=end)


def measures_extract(*, text: str, wall: bool, room: bool = False) -> tuple[dict[str, Any], str]:
    """Thickness, dimensions, area and panel count from a normalised, masked text, and the text
    with what was read masked. The order matters: each step only sees what the earlier left.
    A cold room (`room`) reads "4 x 3 x 2,6" and "2,6 de alto" as its length, width and height."""
    reading = _Reading(text=text, wall=wall, room=room)
    for step in (
        _areas_read,
        _rooms_mask,
        _dimensions_read,
        _thickness_read,
        _count_read,
        _labeled_read,
        _walls_each_read,
        _wall_run_read,
        _meters_read,
        _centimeters_read,
    ):
        step(reading)
    return reading.found, reading.text


def _areas_read(reading: _Reading) -> None:
    for match in _AREA_RE.finditer(reading.text):
        reading.take("area_m2", number_clean(value=number_parse(raw=match.group(1))))
        reading.mask(match.start(), match.end())


def _rooms_mask(reading: _Reading) -> None:
    """Three measures: a cold room's length, width and height; for anything else they do not map
    onto length and width, and are kept out of the other rules."""
    for match in _TRIPLE_DIMS_RE.finditer(reading.text):
        if reading.room:
            raws, units = match.groups()[0::2], [u for u in match.groups()[1::2] if u]
            unit = units[-1] if units else None
            for key, raw in zip(("length_m", "width_m", "height_m"), raws, strict=True):
                reading.take(key, number_clean(value=meters_from(value=number_parse(raw=raw), unit=unit)))
        reading.mask(match.start(), match.end())


def _dimensions_read(reading: _Reading) -> None:
    for match in _DIMS_RE.finditer(reading.text):
        if _thickness_before_dimension(reading, match):
            continue
        first_raw, first_unit, first_label, second_raw, second_unit, second_label = match.groups()
        first_unit = first_unit or second_unit
        second_unit = second_unit or first_unit
        first = meters_from(value=number_parse(raw=first_raw), unit=first_unit)
        second = meters_from(value=number_parse(raw=second_raw), unit=second_unit)
        _sides_take(reading, sides=[(first, first_label), (second, second_label)])
        reading.mask(match.start(), match.end())


def _thickness_before_dimension(reading: _Reading, match: re.Match[str]) -> bool:
    """ "isodec eps 150 x 5,80": a thickness right after the family, then a count or a length."""
    first_raw, first_unit, first_label = match.group(1), match.group(2), match.group(3)
    value = number_parse(raw=first_raw)
    if first_unit or first_label or value not in KNOWN_THICKNESS or value <= MAX_PANEL_LENGTH_M:
        return False
    if not _FAMILY_BEFORE_RE.search(reading.text, 0, match.start()):
        return False
    reading.found.setdefault("thickness_mm", int(value))
    reading.mask(match.start(), match.start(4))  # the rest: a count, a length
    return True


def _sides_take(reading: _Reading, *, sides: list[tuple[float, str | None]]) -> None:
    (first, first_label), (second, second_label) = sides
    if not first_label and not second_label:
        if reading.wall:
            # An unlabeled wall "12 x 3" is run by height: the longer side runs along the ground.
            reading.take("run_m", number_clean(value=max(first, second)))
            reading.take("length_m", number_clean(value=min(first, second)))
        else:
            reading.take("length_m", number_clean(value=first))
            reading.take("width_m", number_clean(value=second))
        return
    for value, label in sides:
        key = _label_key(label=label, wall=reading.wall, room=reading.room)
        if key:
            reading.take(key, number_clean(value=value))
    for value, label in sides:
        if not label:
            free = next(
                (
                    k
                    for k in (("length_m", "run_m") if reading.wall else ("length_m", "width_m"))
                    if k not in reading.found
                ),
                None,
            )
            if free:
                reading.take(free, number_clean(value=value))


def _thickness_read(reading: _Reading) -> None:
    for pattern in (_THICKNESS_ESPESOR_RE, _THICKNESS_AFTER_FAMILY_RE, _THICKNESS_UNIT_RE):
        for match in pattern.finditer(reading.text):
            value = _thickness_value(match)
            if value and "thickness_mm" not in reading.found:
                reading.found["thickness_mm"] = value
                # Only the number goes: the family name still anchors "10 isodec 100".
                first = next(i for i, group in enumerate(match.groups(), 1) if group is not None)
                reading.mask(match.start(first), match.end())


def _thickness_value(match: re.Match[str]) -> int | None:
    """The thickness in mm a match says, or None when it cannot be one."""
    groups = [g for g in match.groups() if g is not None]
    raw, unit = groups[0], (groups[1] if len(groups) > 1 else None)
    value = number_parse(raw=raw)
    if unit and unit.startswith("c"):
        value = value * 10 if 1 <= value <= 30 else 0
    elif not unit and not 20 <= value <= 300:
        return None
    return int(value) if value and value == int(value) else None


def _count_read(reading: _Reading) -> None:
    count_matches = list(_COUNT_RE.finditer(reading.text)) or list(_COUNT_BEFORE_FAMILY_RE.finditer(reading.text))
    for match in count_matches:
        raw = match.group(1)
        count = int(raw) if raw.isdigit() else NUMBER_WORDS[raw]
        if "panel_count" in reading.found or count < 1:
            continue
        reading.found["panel_count"] = count
        tail = _COUNT_TAIL_RE.match(reading.text[match.end() :])
        reading.mask(match.start(), match.end())
        if tail:
            _count_tail_read(reading, tail=tail, offset=match.end())


# "16 metros en total": the wall's whole run, said as such
_RUN_TOTAL_RE = re.compile(rf"{NUM}\s*(?:metros?|mts?|m)\s+(?:lineales\s+)?(?:en\s+total|de\s+pared\s+en\s+total)")
# "dos paredes de 25 m cada una": the run is both
_WALLS_EACH_RE = re.compile(
    rf"(?<![\w.,])(\d+|dos|tres|cuatro)\s+(?:paredes|muros|laterales|frentes)\s+de\s+{NUM}\s*(?:metros?|mts?|m)\b"
    r"\s*(?:de\s+largo\s*)?cada\s+un[oa]"
)


def _walls_each_read(reading: _Reading) -> None:
    if not reading.wall:
        return
    for match in _RUN_TOTAL_RE.finditer(reading.text):
        reading.take("run_m", number_clean(value=number_parse(raw=match.group(1))))
        reading.mask(match.start(), match.end())
    for match in _WALLS_EACH_RE.finditer(reading.text):
        walls = int(match.group(1)) if match.group(1).isdigit() else NUMBER_WORDS[match.group(1)]
        reading.take("run_m", number_clean(value=walls * number_parse(raw=match.group(2))))
        reading.mask(match.start(), match.end())


def _count_tail_read(reading: _Reading, *, tail: re.Match[str], offset: int) -> None:
    """ "10 paneles de 2,80": a bare number after the panels is their length, unless it is a thickness."""
    value = number_parse(raw=tail.group(1))
    unit = tail.group(2)
    if unit or value <= 20:
        reading.take("length_m", number_clean(value=meters_from(value=value, unit=unit)))
        reading.mask(offset + tail.start(1), offset + tail.end())
    elif int(value) in KNOWN_THICKNESS and "thickness_mm" not in reading.found:
        reading.found["thickness_mm"] = int(value)


def _labeled_read(reading: _Reading) -> None:
    for match in _LABELED_RE.finditer(reading.text):
        groups = match.groups()
        if groups[0] is not None:
            raw, unit, label = groups[0], groups[1], groups[2]
        elif groups[3] is not None:
            label, raw, unit = groups[3], groups[4], groups[5]
        else:
            raw, unit, label = groups[6], None, "lineales"
        key = _label_key(label=label, wall=reading.wall, room=reading.room)
        if key:
            reading.take(key, number_clean(value=meters_from(value=number_parse(raw=raw), unit=unit)))
            reading.mask(match.start(), match.end())


def _wall_run_read(reading: _Reading) -> None:
    """ "una pared de 15 metros": how long the wall runs."""
    if not reading.wall:
        return
    for match in _WALL_RUN_RE.finditer(reading.text):
        reading.take("run_m", number_clean(value=number_parse(raw=match.group(1))))
        reading.mask(match.start(1), match.end())


def _meters_read(reading: _Reading) -> None:
    for match in _METERS_RE.finditer(reading.text):
        value = number_clean(value=number_parse(raw=match.group(1)))
        # a wall whose height was said ("altura 2,70"): a bare "14 mts" is how long it runs
        run = match.group(3) or (reading.wall and "length_m" in reading.found)
        # a cold room whose floor was said ("4 x 3 y 2,5 metros"): the height
        height = reading.room and {"length_m", "width_m"} <= reading.found.keys()
        reading.take("run_m" if run else "height_m" if height else "length_m", value)
        reading.mask(match.start(), match.end())


def _centimeters_read(reading: _Reading) -> None:
    for match in _CM_RE.finditer(reading.text):
        value = number_parse(raw=match.group(1))
        if value > 30:
            reading.take("length_m", number_clean(value=value / 100))
            reading.mask(match.start(), match.end())


def _label_key(*, label: str | None, wall: bool, room: bool = False) -> str | None:
    if label in {"alto", "altura"}:
        return "height_m" if room else "length_m"
    if room and label in {"largo", "ancho", "frente", "fondo", "profundidad"}:
        return "width_m" if label == "ancho" else "length_m"
    if label in {"lineales", "lineal", "recorrido", "perimetro"}:
        return "run_m"
    if label == "largo":
        return "run_m" if wall else "length_m"
    if label == "ancho":
        return "run_m" if wall else "width_m"
    if label in {"caida", "fondo", "profundidad"}:  # a roof's fall is the panels' length
        return "length_m"
    if label == "frente":  # the side across the panels
        return "run_m" if wall else "width_m"
    return None


def measures_read(*, text: str, use: str | None, family: str | None) -> dict[str, Any]:
    """The measures of a message whose use and family were read: a wall's, a cold room's or a
    roof's, a length or height of 100 or more taken as centimetres, and a thickness said without a
    unit when nothing else says it ("isodec de 100", "la de 150", "de 150" alone)."""
    wall = use == "wall" or (use is None and family in {"ISOPANEL_EPS", "ISOWALL_PIR"})
    room = use == "cold_room" or (use is None and family == "ISOFRIG_PIR")
    measures, text = measures_extract(text=text, wall=wall, room=room)
    for key in ("length_m", "height_m"):
        # "240 de alto": no panel is 240 m long, so centimetres
        if measures.get(key, 0) >= 100:
            measures[key] = number_clean(value=measures[key] / 100)
    if "thickness_mm" not in measures:
        bare = (THICKNESS_BARE_RE.search(text) if family else _THICKNESS_CHOSEN_RE.search(text)) or (
            _THICKNESS_ALONE_RE.match(text)
        )
        if bare and int(bare.group(1)) in KNOWN_THICKNESS:
            measures["thickness_mm"] = int(bare.group(1))
    return measures
