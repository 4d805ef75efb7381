"""What is asked for: the panel family, its use, colour, slopes and whether it is delivered."""

from __future__ import annotations

import re

from agents.nlu.text import text_mask

_SLOPES_RE = re.compile(
    r"\b(?:a\s+)?(dos|2|una|un|1)\s*(?:sola\s+)?aguas?\b"
    r"|\b(a\s+(?:una|un|1)|(?:a\s+)?(?:dos|2))\s+(?:sola\s+)?(?:caidas?|pendientes?)\b"
)
_MATERIAL_LEAD = r"\bpanel(?:es)?\s+(?:ese\s+|este\s+)?(?:que\s+tienen?\s+|con\s+)?(?:(?:de|para)\s+(?:techo|pared|cubierta|fachada|cerramiento)\s+)?(?:de\s+|en\s+)?"
_EPS_MATERIAL_RE = re.compile(_MATERIAL_LEAD + r"(?:eps|poliestireno|espuma\s?plast|isopor)\b")
_PIR_MATERIAL_RE = re.compile(_MATERIAL_LEAD + r"(?:pir|pur|poliuretano)\b")
_FAMILY_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "ISODEC_PIR",
        re.compile(
            r"\biso\s?-?de(?:c|k|ck|cc|x)s?(?:\b|(?=pir|pur))(?:\s+(?:de\s+)?\d+\s*(?:mm)?)?\s*-?\s*(?:pir|pur|poliuretano)\b"
        ),
    ),
    ("ISODEC_EPS", re.compile(r"\biso\s?-?de(?:c|k|ck|cc|x)s?\b")),
    ("ISOROOF_3G", re.compile(r"\biso\s?-?r(?:oo|o|u|uu)f+(?:e|s)?\b")),
    ("ISOPANEL_EPS", re.compile(r"\biso\s?-?pane?l+(?:es|s)?\b")),
    ("ISOWALL_PIR", re.compile(r"\biso\s?-?(?:wall?|wal+|gual+|ual+)s?\b")),
    ("ISOFRIG_PIR", re.compile(r"\biso\s?-?fri(?:g|j)\w*")),
    (
        "ISOFRIG_PIR",
        re.compile(r"\bpanel(?:es)?\s+(?:ese\s+|este\s+)?(?:de\s+|para\s+)?(?:camaras?|frio|frigorific\w*)\b"),
    ),
)
_USE_RE = re.compile(
    r"\b(?P<roof>techo|techos|techito|techar|techado|techada|tejado|telhado|cubierta|cubiertas|tinglado|tinglados|tinglao|tinglaos"
    r"|cobertizo)\b"
    r"|\b(?P<wall>pared|paredes|fachada|fachadas|cerramiento|cerramientos|muro|muros|tabique|tabiques)\b"
    r"|\b(?P<cold_room>camaras?|camaritas?|frigorific[oa]s?|cuarto\s+frio)\b"
)
_COLOR_RE = re.compile(r"\b(blanc[oa]s?|gris|grises|roj[oa]s?|colorad[oa]s?|verdes?|berdes?)\b")
# "otro color que no sea blanco", "cualquiera menos gris": the colour not wanted.
_COLOR_NOT_RE = re.compile(r"(?:\bno\s+sea|\bmenos|\bexcepto|\bsalvo|\bque\s+no|\bno\s+(?:en|de))\s*(?:el\s+|en\s+)?$")
_COLOR_NAMES = {"blanc": "Blanco", "gris": "Gris", "roj": "Rojo", "color": "Rojo", "verd": "Verde", "berd": "Verde"}

_SHIPPING_RE = re.compile(
    r"(?P<true>\bcon\s+(?:el\s+)?(?:flete|envio|entrega\s+a\s+domicilio)\b"
    r"|(?<!\bel )(?<!\bdel )(?<!\bde )(?<!\bun )\b(?:flete|envio)\s+(?:a|al|hasta|para)\b"
    r"|\b(?:me|nos)\s+(?:lo|los|la|las)\s+(?:mandan|mandas|mandarian|envian|envias|enviarian|traen|traes|llevan"
    r"|llevas|alcanzan|manden|envien|traigan|lleven|alcancen|mandes|envies)\b"
    r"|\b(?:mandalo|mandalos|mandala|mandalas|mandamelo|mandamelos|mandenlo|mandenlos|envialo|envialos|enviamelo|enviamelos"
    r"|traemelo|traemelos)\b"
    r"|\b(?:lo|los|la|las)\s+(?:pueden|podes|podrian)\s+(?:mandar|enviar|traer|llevar)\b"
    r"|(?<!\bno )\b(?:lo|los|la|las)\s+(?:mandan|envian|traen|llevan|mandarian|enviarian|llevarian)\s+(?:a|al|hasta|para)\b"
    r"|\bentrega\s+en\s+(?:obra|domicilio)\b|\bflete\s+incluido\b|\bincluido\s+(?:el\s+)?flete\b"
    r"|\bincluyendo\s+(?:el\s+)?flete\b|(?<!\bno )\bnecesito\s+(?:el\s+)?(?:flete|envio)\b"
    r"|(?<!\bno )\binclu(?:ir|ya|yan|yen|irlo)\s+(?:\w+\s+){0,3}?(?:el\s+)?(?:flete|envio)\b"
    r"|\b(?:enviar|envien|enviarlo|envienlo|mandar|manden|mandarlo|mandenlo)\s+(?:a|al|hasta)\b"
    r"(?=\s+(?:la\s+|el\s+)?(?!su\b|mi\b|nuestro|correo|mail)[a-z]{3,})"
    r"|\bcon\s+entrega\b|\bmas\s+(?:el\s+)?(?:envio|flete)\b|\by\s+(?:con\s+)?(?:el\s+)?(?:flete|envio)\b)"
    r"|(?P<false>\bsin\s+(?:el\s+)?(?:flete|envio)\b"
    r"|\bno\s+(?:necesito|necesitamos|preciso|precisamos|quiero|hace\s+falta)\s+(?:el\s+)?(?:flete|envio)\b"
    r"|\bretir(?:o|amos|aria|ariamos|ar|a|arlo|arlos)\b"
    r"|\b(?:paso|pasamos|pasaria|pasariamos|pasar|voy|vamos|va|ir)\s+a\s+(?:buscar\w*|retirar\w*|levantar\w*)"
    r"|\blevant(?:o|amos|ar)\s+(?:en|yo|nosotros|de)\b|\b(?:lo|los|la|las)\s+levant(?:o|amos)\b"
    r"|\b(?:lo|los)\s+busco\b|\bbusco\s+(?:yo|en\s+fabrica)\b)"
)


def family_find(*, text: str, use: str | None) -> str | None:
    hits: dict[int, str] = {}
    for family, pattern in _FAMILY_PATTERNS:
        for match in pattern.finditer(text):
            # The PIR pattern runs first and must not be overwritten by plain "isodec" at the same spot.
            hits.setdefault(match.start(), family)
    by_material = {
        ("eps", "roof"): "ISODEC_EPS",
        ("eps", "wall"): "ISOPANEL_EPS",
        ("pir", "roof"): "ISODEC_PIR",
        ("pir", "wall"): "ISOWALL_PIR",
        ("pir", "cold_room"): "ISOFRIG_PIR",
    }
    for material, pattern in (("eps", _EPS_MATERIAL_RE), ("pir", _PIR_MATERIAL_RE)):
        family = by_material.get((material, use or ""))
        if family:
            for match in pattern.finditer(text):
                hits.setdefault(match.start(), family)
    # The last family named wins: "el isodec comun no, quiero el isodec pir".
    return hits[max(hits)] if hits else None


def use_find(*, text: str) -> str | None:
    match = _USE_RE.search(text)
    return match.lastgroup if match else None


def color_find(*, text: str) -> str | None:
    match = next(
        (m for m in _COLOR_RE.finditer(text) if not _COLOR_NOT_RE.search(text, 0, m.start())),
        None,
    )
    if not match:
        return None
    word = match.group(1)
    return next(name for prefix, name in _COLOR_NAMES.items() if word.startswith(prefix))


def slopes_find(*, text: str) -> tuple[int | None, str]:
    match = _SLOPES_RE.search(text)
    if not match:
        return None, text
    said = (match.group(1) or match.group(2)).split()[-1]  # "a una caida": its last word
    slopes = 2 if said in {"dos", "2"} else 1
    return slopes, text_mask(text=text, start=match.start(), end=match.end())


def shipping_find(*, text: str) -> bool | None:
    last = None
    for match in _SHIPPING_RE.finditer(text):
        last = match.lastgroup == "true"
    return last
