"""Deterministic Spanish NLU for inbound customer WhatsApp messages: one intent and its entities.

Rules and vocabularies only (standard library, no network, no model), so the same message always
gives the same answer, it runs inside any task and tests can replay it. The intents and entities
follow docs in the shared domain folder (INTENTS.md); NLU_SCHEMA describes the output so an
optional model can later be asked for exactly the same shape.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

MONTEVIDEO_TZ = ZoneInfo("America/Montevideo")

NLU_INTENTS: tuple[str, ...] = (
    "greeting",
    "quote_request",
    "product_info",
    "order_status",
    "payment_notice",
    "promise_to_pay",
    "accept_quote",
    "decline_quote",
    "postpone",
    "human_handoff",
    "complaint",
    "opt_out",
    "other",
)

NLU_ENTITY_KEYS: tuple[str, ...] = (
    "family",
    "thickness_mm",
    "use",
    "length_m",
    "width_m",
    "run_m",
    "area_m2",
    "panel_count",
    "slopes",
    "color",
    "zone",
    "shipping",
    "order_ref",
    "amount",
    "promised_date",
    "email",
    "name",
)

NLU_FAMILIES: tuple[str, ...] = (
    "ISODEC_EPS",
    "ISODEC_PIR",
    "ISOROOF_3G",
    "ISOPANEL_EPS",
    "ISOWALL_PIR",
    "ISOFRIG_PIR",
)
NLU_USES: tuple[str, ...] = ("roof", "wall", "cold_room")
NLU_COLORS: tuple[str, ...] = ("Blanco", "Gris", "Rojo", "Verde")
NLU_ZONES: tuple[str, ...] = ("MONTEVIDEO", "CANELONES", "MALDONADO", "INTERIOR")

_ENTITY_SCHEMAS: dict[str, dict[str, Any]] = {
    "family": {"type": "string", "enum": list(NLU_FAMILIES)},
    "thickness_mm": {"type": "integer", "minimum": 1, "description": "panel thickness in mm (10 cm is 100)"},
    "use": {"type": "string", "enum": list(NLU_USES)},
    "length_m": {"type": "number", "exclusiveMinimum": 0, "description": "roof: along the slope; wall: height"},
    "width_m": {"type": "number", "exclusiveMinimum": 0, "description": "roof: the side across the panels"},
    "run_m": {"type": "number", "exclusiveMinimum": 0, "description": "wall: total linear meters"},
    "area_m2": {"type": "number", "exclusiveMinimum": 0},
    "panel_count": {"type": "integer", "minimum": 1},
    "slopes": {"type": "integer", "enum": [1, 2]},
    "color": {"type": "string", "enum": list(NLU_COLORS)},
    "zone": {"type": "string", "enum": list(NLU_ZONES)},
    "shipping": {"type": "boolean", "description": "true: wants delivery; false: picks up"},
    "order_ref": {"type": "string", "description": "order or quote number as mentioned"},
    "amount": {"type": "number", "exclusiveMinimum": 0, "description": "money amount mentioned"},
    "promised_date": {"type": "string", "format": "date", "description": "ISO date promised, America/Montevideo"},
    "email": {"type": "string", "format": "email"},
    "name": {"type": "string", "description": "the customer's own name"},
}

# Exactly what nlu_parse returns: entity keys are optional and never null (absent means not said).
NLU_SCHEMA: dict[str, Any] = {
    "title": "NluResult",
    "type": "object",
    "additionalProperties": False,
    "required": ["intent", "confidence", "entities"],
    "properties": {
        "intent": {"type": "string", "enum": list(NLU_INTENTS)},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "entities": {
            "type": "object",
            "additionalProperties": False,
            "properties": {key: dict(_ENTITY_SCHEMAS[key]) for key in NLU_ENTITY_KEYS},
        },
    },
}


def _schema_nullable(*, schema: dict[str, Any]) -> dict[str, Any]:
    nullable = dict(schema)
    nullable["type"] = [schema["type"], "null"]
    if "enum" in schema:
        nullable["enum"] = [*schema["enum"], None]
    return nullable


# OpenAI strict structured outputs require every property to be listed as required, so there each
# entity is nullable instead of optional; a caller must drop the nulls to get nlu_parse's shape.
NLU_SCHEMA_OPENAI: dict[str, Any] = {
    **NLU_SCHEMA,
    "properties": {
        **NLU_SCHEMA["properties"],
        "entities": {
            "type": "object",
            "additionalProperties": False,
            "required": list(NLU_ENTITY_KEYS),
            "properties": {key: _schema_nullable(schema=_ENTITY_SCHEMAS[key]) for key in NLU_ENTITY_KEYS},
        },
    },
}


# --------------------------------------------------------------------------------------------
# Normalisation
# --------------------------------------------------------------------------------------------

_EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_URL_RE = re.compile(r"\b(?:https?://|www\.)\S+")

# WhatsApp shorthand rewritten to the words the rules are written against.
_ABBREVIATIONS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"\bc/u\b", " cada uno "),
        (r"\bp/", " para "),
        (
            r"\bp\s+(?=(?:pared|paredes|techo|techos|cubierta|camara|galpon|obra|casa|fachada|cerramiento|tinglado"
            r"|un|una|el|la|mi)\b)",
            "para ",
        ),
        (r"\bc/", " con "),
        (r"\bs/", " sin "),
        (r"\b(?:xq|pq|porq|xk)\b", "porque"),
        (r"\b(?:q|k|ke|qe)\b", "que"),
        (r"\bxa\b", "para"),
        (r"\b(?:dsp|dps|desp)\b", "despues"),
        (r"\b(?:tmb|tb|tamb|tambn)\b", "tambien"),
        (r"\bcdo\b", "cuando"),
        (r"\b(?:xfa|xfavor|porfa|porfis|pls|plis|please)\b", "por favor"),
        (r"\b(?:bs|bns|bnas)\b", "buenas"),
        (r"\bbn\b", "bien"),
        (r"\b(?:msj|msg)\b", "mensaje"),
        (r"\b(?:nro|num|numero)\s*\.?\s*(?=\d)|\bn°\s*(?=\d)|\bno\.?(?=\d)|\bno\.\s*(?=\d)", "nro "),
    )
)


def _x_rewrite(match: re.Match[str]) -> str:
    # "6 x 4" is a dimension and stays; "x mail", "x la demora" mean "por".
    rest = match.string[match.end() :].lstrip()
    return "x" if rest[:1].isdigit() else "por"


def _text_normalize(*, text: str) -> str:
    text = re.sub(r"(?i)\bn\s*[°º]\s*(?=\d)", "nro ", text)
    decomposed = unicodedata.normalize("NFKD", text)
    chars = []
    for char in decomposed:
        if unicodedata.combining(char):
            continue
        category = unicodedata.category(char)
        # Emojis and pictographs become spaces so they never glue two words together.
        chars.append(" " if category in {"So", "Cs", "Co", "Cn"} else char)
    normalized = "".join(chars).lower()
    normalized = _EMAIL_RE.sub(" ", normalized)
    normalized = _URL_RE.sub(" ", normalized)
    # "holaaa", "cuantooo": three or more repeated letters collapse to one.
    normalized = re.sub(r"([a-z])\1{2,}", r"\1", normalized)
    for pattern, replacement in _ABBREVIATIONS:
        normalized = pattern.sub(replacement, normalized)
    normalized = re.sub(r"\bx\b", _x_rewrite, normalized)
    # "isodec100" is "isodec 100": product names glued to their thickness.
    normalized = re.sub(r"\b(iso\s?-?[a-z]{3,})(?=\d)", r"\1 ", normalized)
    normalized = _number_words_rewrite(text=normalized)
    return re.sub(r"\s+", " ", normalized).strip()


def _number_words_rewrite(*, text: str) -> str:
    """Measures said in words become digits: "seis por cuatro y medio" is "6 x 4,5", "de cuatro
    metros" is "de 4 metros". Other number words stay ("dos aguas", "una consulta")."""
    text = _HALF_RE.sub(lambda m: f"{_number_word_value(m.group(1))},5", text)
    text = _WORD_BY_WORD_RE.sub(lambda m: f"{_number_word_value(m.group(1))} x {_number_word_value(m.group(2))}", text)
    return _WORD_BEFORE_UNIT_RE.sub(lambda m: str(_NUMBER_WORDS[m.group(1)]), text)


def _number_word_value(raw: str) -> str:
    return raw if raw[0].isdigit() else str(_NUMBER_WORDS[raw])


def _text_mask(*, text: str, start: int, end: int) -> str:
    # Spaces keep every other position valid for the spans still to be read.
    return text[:start] + " " * (end - start) + text[end:]


def _number_parse(*, raw: str) -> float:
    return float(raw.replace(",", "."))


def _number_clean(*, value: float) -> int | float:
    value = round(value, 3)
    return int(value) if value == int(value) else value


_NUM = r"(?<![\w.,])(\d+(?:[.,]\d+)?)"
# After a dimension separator the number may touch it: the "4" of "6x4".
_NUM_AFTER = r"(\d+(?:[.,]\d+)?)(?![\d])"
# a unit may touch the "x" of the next measure: "6mx4m", "6mtsx4mts"
_LEN_UNIT = r"(cm|centimetros?|metros?|mtrs?|mts?|m)(?![a-wyz0-9]|x(?!\d))\.?"
_NUMBER_WORDS = (
    {"un": 1, "una": 1, "uno": 1}
    | dict(
        zip(
            "dos tres cuatro cinco seis siete ocho nueve diez once doce trece catorce quince dieciseis diecisiete "
            "dieciocho diecinueve veinte".split(),
            range(2, 21),
            strict=True,
        )
    )
    | {"treinta": 30, "cuarenta": 40, "cincuenta": 50, "sesenta": 60, "setenta": 70, "ochenta": 80, "cien": 100}
)


# Words for measures: "seis por cuatro", "cuatro y medio", "de tres metros"; "un"/"una" are not
# measures ("una agua", "un techo").
_MEASURE_WORD = "|".join(sorted((w for w, n in _NUMBER_WORDS.items() if n > 1), key=len, reverse=True))
_MEASURE_TOKEN = rf"(\d+(?:,\d+)?|{_MEASURE_WORD})"
_HALF_RE = re.compile(rf"(?<![\w.,])(\d+|{_MEASURE_WORD})\s+y\s+medio\b")
_WORD_BY_WORD_RE = re.compile(
    rf"(?<![\w.,])(?=\S*[a-z]|\S+\s+por\s+[a-z])"  # at least one of the two in words
    rf"{_MEASURE_TOKEN}\s+(?:por|x)\s+{_MEASURE_TOKEN}(?![\w.,])"
)
_WORD_BEFORE_UNIT_RE = re.compile(
    rf"\b({_MEASURE_WORD})(?=\s*(?:metros?|mts?|mtrs?|m|cm|centimetros?|milimetros|mm)\b)"
)


def _meters_from(*, value: float, unit: str | None) -> float:
    return value / 100 if unit and unit.startswith(("cm", "centim")) else value


# --------------------------------------------------------------------------------------------
# Places
# --------------------------------------------------------------------------------------------


def _names_split(*, text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(",") if name.strip())


# Comma-separated so multi-word places read naturally; every name is already normalised.
_PLACES: dict[str, tuple[str, ...]] = {
    "MONTEVIDEO": _names_split(
        text="montevideo, montevido, mvd, mdeo, mtdeo, pocitos, carrasco, punta carretas, malvin, malvin norte, "
        "buceo, punta gorda, el prado, prado, el cerro, cerro norte, la teja, sayago, colon, penarol, "
        "maronas, flor de maronas, piedras blancas, casavalle, cordon, tres cruces, parque batlle, "
        "la blanqueada, ciudad vieja, palermo, parque rodo, aguada, jacinto vera, brazo oriental, belvedere, "
        "paso molino, nuevo paris, la comercial, villa espanola, villa dolores, villa munoz, "
        "punta de rieles, capurro, reducto, la figurita, paso de la arena, casabo, santiago vazquez, "
        "melilla, lezica, manga, barrio sur, larranaga, atahualpa"
    ),
    "CANELONES": _names_split(
        text="canelones, ciudad de la costa, pando, las piedras, la paz, atlantida, solymar, lomas de solymar, "
        "lagomar, el pinar, shangrila, san jose de carrasco, paso carrasco, barros blancos, "
        "colonia nicolich, toledo, joaquin suarez, sauce, santa lucia, tala, san ramon, san jacinto, migues, "
        "soca, empalme olmos, los cerrillos, aguas corrientes, juanico, san bautista, santa rosa, salinas, "
        "marindia, pinamar, neptunia, parque del plata, la floresta, costa azul, jaureguiberry, "
        "cuchilla alta, costa de oro, parque miramar, las toscas, bello horizonte, guazuvira, araminda, "
        "biarritz, villa argentina, medanos de solymar"
    ),
    "MALDONADO": _names_split(
        text="maldonado, punta del este, piriapolis, san carlos, la barra, jose ignacio, pan de azucar, aigua, "
        "manantiales, punta ballena, solanas, portezuelo, ocean park, el tesoro, la juanita, punta colorada, "
        "punta negra, playa verde, playa hermosa, playa grande, las flores, bella vista, "
        "balneario buenos aires, garzon, pueblo garzon, gregorio aznarez, la capuera, maldonado nuevo"
    ),
    "INTERIOR": _names_split(
        text="artigas, bella union, tomas gomensoro, cerro largo, melo, rio branco, fraile muerto, colonia, "
        "colonia del sacramento, carmelo, nueva helvecia, juan lacaze, rosario, nueva palmira, tarariras, "
        "ombues de lavalle, durazno, sarandi del yi, flores, trinidad, florida, sarandi grande, casupa, "
        "fray marcos, lavalleja, minas, jose pedro varela, solis de mataojo, mariscala, paysandu, guichon, "
        "quebracho, rio negro, fray bentos, young, nuevo berlin, san javier, rivera, tranqueras, vichadero, "
        "minas de corrales, rocha, chuy, castillos, lascano, la paloma, la pedrera, punta del diablo, "
        "aguas dulces, cabo polonio, barra de valizas, la coronilla, salto, dayman, termas del dayman, "
        "arapey, san jose, san jose de mayo, libertad, ciudad del plata, ecilda paullier, rafael perazza, "
        "soriano, mercedes, dolores, cardona, tacuarembo, paso de los toros, san gregorio de polanco, "
        "ansina, treinta y tres, vergara, santa clara de olimar, cerro chato, al interior, para el interior, "
        "interior del pais, del interior"
    ),
}
_PLACE_ZONE = {place: zone for zone, places in _PLACES.items() for place in places}
# Longest first, so "paso carrasco" wins over "carrasco" and "cerro largo" over "el cerro".
_PLACE_RE = re.compile(
    r"\b(" + "|".join(re.escape(p) for p in sorted(_PLACE_ZONE, key=len, reverse=True)) + r")\b",
)
_DESTINATION_BEFORE_RE = re.compile(
    r"(?:flete|envio|mandar\w*|mandalo\w*|mandan|enviar\w*|envialo\w*|entrega\w*|llevar\w*|obra)"
    r"\s+(?:a|al|en|hasta|para)\s+(?:la\s+|el\s+)?$"
)


# --------------------------------------------------------------------------------------------
# Intent rules: (intent, weight, pattern). Scores add up per intent, each rule counts once.
# --------------------------------------------------------------------------------------------

_MONTHS = {
    name: month
    for month, names in enumerate(
        (
            "enero ene",
            "febrero feb",
            "marzo mar",
            "abril abr",
            "mayo may",
            "junio jun",
            "julio jul",
            "agosto ago",
            "setiembre septiembre set sep sept",
            "octubre oct",
            "noviembre nov",
            "diciembre dic",
        ),
        start=1,
    )
    for name in names.split()
}
_MONTH_ALT = "|".join(sorted(_MONTHS, key=len, reverse=True))
_WEEKDAYS = {
    "lunes": 0,
    "martes": 1,
    "miercoles": 2,
    "jueves": 3,
    "viernes": 4,
    "sabado": 5,
    "domingo": 6,
}
_WEEKDAY_ALT = "lunes|martes|miercoles|jueves|viernes|sabado|domingo"

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
    rf"\b(?:hoy|manana|pasado\s+manana|(?:{_WEEKDAY_ALT})|fin\s+de\s+mes|principios?\s+de\s+mes"
    rf"|semana\s+que\s+viene|proxima\s+semana|sin\s+falta|cuando\s+cobre|apenas\s+cobre|en\s+cuanto\s+cobre"
    rf"|(?:el|para\s+el|antes\s+del|hasta\s+el)\s+(?:dia\s+)?\d{{1,2}}|\d{{1,2}}\s*/\s*\d{{1,2}}"
    rf"|\d{{1,2}}\s+de\s+(?:{_MONTH_ALT})|en\s+(?:\d+|unos|dos|tres|cuatro|cinco)\s+dias|esta\s+semana|este\s+mes)\b"
)

CONDITION = "condition"  # counts for complaint, unless a prospect describes what to fix (below)
# Said of something bought from us: then a condition is a complaint even beside a new request.
_BOUGHT_RE = re.compile(
    r"\b(?:compre|compramos|me\s+vendieron|nos\s+vendieron|me\s+mandaron|nos\s+mandaron|me\s+entregaron"
    r"|nos\s+entregaron|les\s+compre|les\s+compramos|instalaron|colocaron|que\s+me\s+(?:vendieron|pusieron))\b"
)

_RULES_RAW: tuple[tuple[str, int, str], ...] = (
    # opt_out: any clear "stop writing" beats everything else in the message.
    ("opt_out", 10, r"\bno\s+(?:me|nos)\s+(?:escrib\w*|contact\w*|molest\w*|jod\w*|spame\w*|llamen\s+mas)"),
    ("opt_out", 10, r"\bno\s+(?:me|nos)\s+(?:manden|envien|mandes|envies)\s+(?:\w+\s+)?mas\b"),
    (
        "opt_out",
        10,
        r"\bno\s+quiero\s+(?:que\s+me\s+(?:escriban|manden|envien|contacten|llamen|molesten)"
        r"|recibir\s+mas|mas\s+mensajes|que\s+me\s+sigan)",
    ),
    ("opt_out", 10, r"\bdej(?:en|a|ar|en)\s+de\s+(?:escribir\w*|mandar\w*|enviar\w*|molestar\w*|llamar\w*|joder)"),
    ("opt_out", 10, r"\b(?:dar|darme|dame|denme|den|doy|darnos)\s+de\s+baja\b"),
    ("opt_out", 10, r"^\W*(?:baja|stop|unsubscribe|desuscribir\w*|basta)\W*$"),
    (
        "opt_out",
        10,
        r"\bbasta\s+de\s+(?:mand\w*|envi\w*|escrib\w*|molest\w*|promociones|mensajes|publicidad|spam|ofertas)"
        r"|\bno\s+quiero\s+(?:recibir\s+)?(?:mas\s+)?(?:promociones|publicidad|ofertas|spam)\b",
    ),
    (
        "opt_out",
        10,
        r"\b(?:borr|sac|saqu|quit|elimin)\w*\s+de\s+(?:la|su|sus|tu|tus)\s+(?:lista|base|contactos|difusion)\b",
    ),
    (
        "opt_out",
        10,
        r"\b(?:elimin|borr|sac|quit|remuev|dar\s+de\s+baja)\w*\s+(?:mi|mis|nuestro|nuestros)\s+(?:numero|datos|contacto"
        r"|telefono|celular)\b",
    ),
    # human_handoff
    (
        "human_handoff",
        6,
        r"\b(?:pasame|pasenme|pasarme|comunicame|comunicarme|comuniqueme|derivame|derivarme|transferime)\s+con\b",
    ),
    (
        "human_handoff",
        6,
        r"\bhablar\s+(?:por\s+telefono\s+|personalmente\s+|directamente\s+)?con\s+(?:alguien"
        r"|una?\s+(?:persona|humano|vendedor\w*|asesor\w*|operador\w*|encargad\w*)"
        r"|el\s+(?:encargado|dueno|vendedor|gerente)|la\s+(?:encargada|duena|vendedora)|gente|ventas"
        r"|un\s+ser\s+humano)",
    ),
    (
        "human_handoff",
        6,
        r"\b(?:podes|puede|pueden|podrias|podria|podrian)\s+(?:pasar|comunicar|derivar)(?:me|nos)?\s+con\b",
    ),
    ("human_handoff", 6, r"\b(?:me|nos)\s+(?:comunicas|comunican|pasas|pasan|derivas|derivan|transferis)\s+con\b"),
    ("human_handoff", 6, r"\b(?:persona|humano)\s+(?:real|de\s+verdad)\b"),
    ("human_handoff", 6, r"\bno\s+(?:con\s+)?(?:un|una|el|la)?\s*(?:bot|robot|maquina|contestador\w*)\b"),
    ("human_handoff", 6, r"\b(?:sos|es)\s+(?:un\s+)?(?:bot|robot|maquina)\b"),
    ("human_handoff", 6, r"\b(?:me|nos)\s+(?:puede|pueden|podes|podrian|podria|podrias)\s+llamar\b"),
    (
        "human_handoff",
        6,
        r"\b(?:quiero|quisiera|prefiero|necesito)\s+que\s+me\s+(?:atienda|atiendan|llame|llamen|contacte|contacten"
        r"|escriba)\b",
    ),
    ("human_handoff", 6, r"\b(?:llamame|llamenme|llameme)\b|\b(?:me|nos)\s+(?:llaman|llamas|llamarian|llamen)\b"),
    (
        "human_handoff",
        6,
        r"\b(?:ser\s+atendid[oa]s?|que\s+me\s+atienda|atenderme|hablar)\s+(?:por|con)\s+(?:un|una|algun|alguna|el|la)?\s*"
        r"(?:representante|vendedor\w*|asesor\w*|ejecutiv\w*|persona|humano|encargad\w*|comercial)"
        r"|\b(?:me|nos)\s+comunico\s+con\s+(?:alguien|una?\s+persona|administracion|ventas|un\s+vendedor)\b",
    ),
    ("human_handoff", 6, r"\bque\s+me\s+(?:llame|llamen|atienda|atiendan)\s+(?:alguien|una\s+persona|un\s+vendedor)"),
    ("human_handoff", 6, r"\b(?:hay\s+alguien|alguien\s+que\s+me\s+(?:atienda|responda|llame))\b"),
    ("human_handoff", 3, r"\b(?:una|alguna)\s+persona\b"),
    ("human_handoff", 3, r"\b(?:un|una|algun)\s+(?:vendedor|vendedora|asesor|asesora|operador|operadora|humano)\b"),
    ("human_handoff", 2, r"\bhablar\s+(?:por\s+telefono\s+|personalmente\s+)?con\b"),
    # complaint
    (
        "complaint",
        5,
        r"\b(?:rot[oa]s?|abollad\w*|danad\w*|golpead\w*|rayad\w*|defectuos\w*|fallad[oa]s?|quebrad[oa]s?"
        r"|partid[oa]s?|doblad[oa]s?|despintad\w*|oxidad\w*|aplastad\w*|torcid[oa]s?|mal\s+estado|rajad[oa]s?"
        r"|fisurad[oa]s?|se\s+(?:me\s+|nos\s+)?(?:rompio|rompieron|partio|partieron|quebro|quebraron|rayo|rayaron"
        r"|abollo|abollaron|golpeo|golpearon|mojo|mojaron|dano|danaron|doblo|doblaron|mancho|mancharon))\b",
    ),
    (
        "complaint",
        5,
        r"\b(?:desastre|pesim\w*|verguenza|vergonzoso|indignad\w*|estaf\w*|falta\s+de\s+respeto|inaceptable"
        r"|impresentable|mala\s+atencion|mal\s+atendid\w*|malisim\w*|horrible|un\s+asco)\b",
    ),
    ("complaint", 5, r"\b(?:queja|quejarme|reclamo|reclamar|reclamacion|denuncia)\b"),
    ("complaint", 5, r"\b(?:cobr|debit|factur)\w*\s+(?:\w+\s+)?(?:dos\s+veces|doble|de\s+mas)\b"),
    (
        "complaint",
        4,
        r"\bfalta(?:n|ron|ba|ban)?\s+(?:\d+\s+|las\s+|los\s+|el\s+|la\s+|unos\s+|unas\s+)?(?:paneles|panel|piezas"
        r"|tornillos|accesorios|chapas|cosas|cumbreras?|goteros?|perfiles|perfil|kits?|siliconas?|esquineros?"
        r"|canalones?|fijaciones|tapas)\b",
    ),
    ("complaint", 4, r"\bno\s+me\s+(?:responde|contesta|atiende|responden|contestan|atienden)\b"),
    (
        "complaint",
        4,
        r"\bnadie\s+(?:me\s+|nos\s+)?(?:responde|contesta|atiende|aviso|avisa|llamo|llama|dijo|dice|sabe)\b",
    ),
    ("complaint", 4, r"\b(?:llego|llegaron|vino|vinieron|entregaron|aparecio|aparecieron)\b.{0,25}\btarde\b"),
    (
        "complaint",
        4,
        r"\b(?:me|nos)\s+(?:cobraron|cobro|cobran|facturaron)\b.{0,60}\b(?:gratis|incluid[oa]|de\s+mas"
        r"|sin\s+cargo|otro\s+precio|mas\s+caro)\b",
    ),
    # What is wrong with a roof, a wall or a room: a complaint about what we sold, or what a
    # prospect wants to fix with it (see _intent_decide).
    (
        CONDITION,
        5,
        r"\b(?:gotea|gotean|se\s+llueve|se\s+llueven|filtra|filtran|entra\s+agua|filtraciones|filtracion|goteras"
        r"|humedad)\b",
    ),
    (
        CONDITION,
        4,
        r"\b(?:se\s+(?:esta|estan)?\s*(?:despega\w*|levanta\w*|sale|salen|suelta\w*|volo|volaron|despegaron|solto"
        r"|soltaron|hundio|combo|comba|decolor\w*|despint\w*|oxid\w*|pel\w*)|despegad[oa]s?|decolorad[oa]s?"
        r"|destenid[oa]s?)\b",
    ),
    (
        "complaint",
        4,
        r"\bno\s+(?:pega|pegan|funciona|funcionan|cierra\s+bien|encaja|encajan|encastra|sirve\s+para\s+nada)\b",
    ),
    ("complaint", 4, r"\b(?:exijo|exigimos|exigir|reclamo\s+formal|inadmisible|no\s+puede\s+ser)\b"),
    (
        "complaint",
        4,
        r"\b(?:segunda|tercera|otra)\s+vez\s+que\b|\b(?:me|nos)\s+(?:cambian|cambiaron)\s+(?:la\s+fecha|el\s+dia)\b"
        r"|\b(?:se\s+)?barre(?:an|a|aron|o)\b|\bno\s+(?:agarran|agarra|ajustan|ajusta)\b",
    ),
    (CONDITION, 4, r"\b(?:pierde|pierden|perdiendo)\s+(?:el\s+)?frio\b|\bno\s+(?:enfria|mantiene\s+el\s+frio)\b"),
    ("complaint", 5, r"\bno\s+es\s+lo\s+que\s+(?:pedi|compre|encargue|pedimos|compramos)\b"),
    (
        "complaint",
        5,
        r"\b(?:mandaron|enviaron|trajeron|llego|llegaron|vino|vinieron|entregaron)\s+(?:\w+\s+){0,4}"
        r"(?:equivocad\w*|incomplet\w*|de\s+otro\s+(?:color|espesor|largo|modelo|tamano)|otro\s+color|otra\s+medida"
        r"|mal|fallad\w*)\b",
    ),
    (
        "complaint",
        5,
        r"\b(?:mandaron|enviaron|trajeron|entregaron|llego|llegaron|vino|vinieron)\b.{0,40}\by\s+(?:yo\s+)?"
        r"(?:pedi|habia\s+pedido|encargue|compre|pedimos|compramos)\b",
    ),
    ("complaint", 3, r"\b(?:devolucion|devolver|reembolso|reintegro)\b"),
    ("complaint", 3, r"\b(?:nunca\s+llego|no\s+llego\s+nunca)\b"),
    # payment_notice: paid already, sends the receipt or asks how to pay.
    (
        "payment_notice",
        4,
        r"\b(?:transferi|deposite|pague|abone|gire|transferimos|depositamos|abonamos|ya\s+pagamos)\b",
    ),
    (
        "payment_notice",
        4,
        r"\b(?:hice|hicimos|realice|realizamos|efectue|efectuamos|hecho|realizado|realizada|efectuado|efectuada)\s+"
        r"(?:la|el|una|un)\s+(?:transferencia|deposito|pago|giro|sena|adelanto|anticipo)\b",
    ),
    (
        "payment_notice",
        4,
        r"\b(?:te|les|le)\s+(?:pase|pasamos|mande|mandamos|gire|giramos)\s+(?:la\s+plata|el\s+pago|el\s+dinero"
        r"|la\s+guita|lo\s+que\s+(?:debia|faltaba))\b",
    ),
    ("payment_notice", 4, r"\bcomprobante\b"),
    ("payment_notice", 5, r"\bcuenta\s+en\s+(?:pesos|dolares|moneda\s+nacional)\b"),
    (
        "payment_notice",
        5,
        r"\b(?:deje|dejamos|pague|pagamos|mande|mandamos|transferi|deposite|abone)\s+(?:la|una|el|un)\s+"
        r"(?:sena|adelanto|anticipo)\b",
    ),
    (
        "payment_notice",
        5,
        r"\b(?:la\s+plata|el\s+dinero|el\s+pago|el\s+deposito|la\s+transferencia)\s+(?:ya\s+)?(?:esta|quedo)\s+"
        r"(?:ya\s+)?en\s+(?:su|tu|la)\s+cuenta\b"
        r"|\b(?:esta|quedo)\s+(?:la\s+plata|el\s+dinero|el\s+pago|el\s+deposito|la\s+transferencia)\s+en\s+(?:su|tu|la)"
        r"\s+cuenta\b",
    ),
    (
        "payment_notice",
        5,
        r"\b(?:esta|quedo|ya)\s+hech[oa]\s+(?:la|el)\s+(?:transferencia|deposito|pago|giro)\b"
        r"|\ba\s+que\s+(?:cuenta|banco)\b|\b(?:en|a)\s+(?:que|cual)\s+cuenta\s+(?:les|te|le)?\s*"
        r"(?:deposito|transfiero|pago|giro)\b",
    ),
    (
        "payment_notice",
        5,
        r"\bpago\s+(?:hecho|realizado|efectuado|listo|enviado)\b"
        r"|\b(?:transferencia|deposito|giro)\s+(?:hecha|hecho|realizad[oa]|lista|listo|enviad[oa])\b",
    ),
    (
        "payment_notice",
        5,
        r"\b(?:llego|llegaron|recibieron|recibiste|les\s+llego|te\s+llego|acreditaron|acredito|se\s+acredito|vieron)"
        r"\b.{0,20}\b(?:transferencia|deposito|pago|giro|plata)\b",
    ),
    (
        "payment_notice",
        4,
        r"\bcomo\s+(?:les|te|le)?\s*(?:pago|pagamos|abono|puedo\s+pagar|podemos\s+pagar|hago\s+el\s+pago)\b",
    ),
    ("payment_notice", 4, r"\b(?:formas?|medios?|metodos?|opciones)\s+de\s+pago\b"),
    (
        "payment_notice",
        5,
        r"\b(?:aceptan|toman|reciben|(?:puedo|podemos|se\s+puede)\s+pagar\s+(?:con|en))\s+(?:transferencia|tarjeta|efectivo"
        r"|cheque|pesos|dolares|mercado\s*pago|debito|credito)\b",
    ),
    (
        "payment_notice",
        4,
        r"\b(?:(?:numero|nro)\s+de\s+cuenta|cuenta\s+(?:bancaria|del\s+banco)|datos\s+(?:bancarios|de\s+la\s+cuenta"
        r"|para\s+(?:transferir|depositar|pagar|la\s+transferencia|el\s+deposito|el\s+pago))|cbu)\b",
    ),
    (
        "payment_notice",
        3,
        r"\b(?:mercado\s*pago|tarjeta|efectivo|cheque|abitab|red\s*pagos|link\s+de\s+pago|en\s+cuotas)\b",
    ),
    ("payment_notice", 2, r"\b(?:brou|itau|santander|scotiabank|bbva|hsbc|heritage|prex)\b"),
    ("payment_notice", 4, r"\bya\s+(?:esta|estan|quedo)\s+(?:pago|pagado|paga|transferido|depositado|abonado)\b"),
    ("payment_notice", 3, r"\b(?:puedo|podemos)\s+pagar\b"),
    # order_status: an order already placed.
    ("order_status", 2, r"\b(?:mi|el|del|nuestro|la|mis)\s+(?:pedido|orden|compra|encargo|envio|entrega)\b"),
    (
        "order_status",
        3,
        # (not the verb of "si encargo hoy, para cuando...": an order still to come)
        r"(?<!\bsi )\b(?:pedido|orden|compra|encargo)\b.{0,40}\b(?:llega|llegan|sale|salio|despach\w*|anda|estado|donde"
        r"|cuando|viene|vienen|novedad\w*|demora\w*|listo|sigue)\b"
        r"|\b(?:llega|llegan|sale|salio|despach\w*|anda|estado|donde|cuando|viene|vienen|novedad\w*|demora\w*)\b"
        r".{0,40}\b(?:pedido|orden|compra|encargo)\b",
    ),
    (
        "order_status",
        3,
        r"\bcuando\s+(?:me\s+|nos\s+)?(?:llega|llegan|llegaria|llegarian|entregan|traen|viene|vienen|despachan)\b",
    ),
    ("order_status", 4, r"\bya\s+(?:salio|salieron|despacharon|despachaste|despacho|cargaron)\b"),
    ("order_status", 4, r"\b(?:salio|salieron|despacharon)\s+(?:el\s+camion|mi|el\s+pedido|la\s+orden|lo\s+mio)"),
    ("order_status", 3, r"\blo\s+mio\b"),
    (
        "order_status",
        4,
        r"\b(?:por\s+)?donde\s+(?:anda|esta|viene|va)\s+(?:el\s+|mi\s+)?(?:camion|pedido|flete|envio|chofer|fletero"
        r"|orden|entrega)\b",
    ),
    (
        "order_status",
        4,
        r"\ba\s+que\s+hora\s+(?:\w+\s+){0,3}(?:pasa|llega|viene|sale|pasan|llegan|vienen|salen)\b"
        r"|\bel\s+(?:camion|flete|fletero|chofer)\b.{0,20}\b(?:pasa|llega|viene|sale)\b",
    ),
    ("order_status", 3, r"\ben\s+que\s+anda\b"),
    ("order_status", 3, r"\b(?:seguimiento|tracking|rastreo)\b"),
    ("order_status", 2, r"\bfecha\s+de\s+entrega\b"),
    ("order_status", 2, r"\b(?:compre|pedi|pedimos|encargue|encargamos|hice\s+(?:el|un)\s+pedido)\b"),
    (
        "order_status",
        3,
        r"\b(?:no\s+(?:me\s+)?(?:llego|llegaron)|todavia\s+no\s+(?:llega|llego|llegaron)|sigue\s+sin\s+llegar)\b",
    ),
    ("order_status", 4, r"\bestado\s+del?\s+(?:mi\s+)?(?:pedido|orden|compra|envio)\b"),
    (
        "order_status",
        4,
        r"\b(?:estoy|estamos)\s+esperando\s+(?:el|mi|los|la)\s+(?:pedido|paneles|entrega|envio|camion|orden)\b",
    ),
    # postpone: wants time before deciding.
    (
        "postpone",
        4,
        r"\blo\s+(?:veo|vemos|pienso|pensamos|consulto|consultamos|charlo|charlamos|hablo|hablamos|analizo"
        r"|analizamos|evaluo|evaluamos|estudio|estudiamos|converso|conversamos|decido|decidimos)\b",
    ),
    (
        "postpone",
        5,
        r"\bdej(?:a|e|en)me\s+(?:pensarlo|pensar|verlo|consultarlo|consultar|analizarlo|chequearlo|evaluarlo)\b",
    ),
    (
        "postpone",
        5,
        r"\b(?:despues|luego|mas\s+tarde|mas\s+adelante|en\s+unos\s+dias|en\s+estos\s+dias|semana\s+que\s+viene"
        r"|proxima\s+semana|que\s+viene|manana|cualquier\s+cosa|esta\s+semana|a\s+fin\s+de\s+mes|a\s+la\s+tarde"
        r"|(?:el\s+)?(?:lunes|martes|miercoles|jueves|viernes|sabado|domingo))\s+(?:te|les|le)\s+"
        r"(?:confirmo|aviso|digo|escribo|contesto|respondo|comento|hablo)\b",
    ),
    (
        "postpone",
        5,
        r"\b(?:te|les|le)\s+(?:confirmo|aviso|digo|escribo|contesto|respondo|comento)\s+(?:despues|luego|mas\s+tarde"
        r"|mas\s+adelante|en\s+unos\s+dias|en\s+estos\s+dias|la\s+semana|la\s+proxima|el\s+mes|manana|cuando"
        r"|esta\s+semana|a\s+fin\s+de\s+mes|el\s+(?:lunes|martes|miercoles|jueves|viernes|sabado|domingo))\b",
    ),
    ("postpone", 3, r"\b(?:te|les)\s+aviso\b"),
    (
        "postpone",
        4,
        r"\bdej(?:a|e|en)me\s+(?:sacar|hacer|ver|revisar|chequear|mirar|juntar|calcular)\b"
        r"|\by\s+(?:te|les|le)\s+(?:escribo|aviso|confirmo|digo|contesto|respondo)\b",
    ),
    (
        "postpone",
        5,
        r"\bcuando\s+(?:\w+\s+){0,3}(?:te|les|le)\s+(?:digo|aviso|confirmo|escribo|contesto|comento)\b",
    ),
    ("postpone", 3, r"\b(?:otros|otras|mas)\s+(?:presupuestos|cotizaciones)\b"),
    ("postpone", 5, r"\b(?:mas\s+)?cerca\s+de\s+la\s+fecha\b|\bcuando\s+(?:se\s+)?(?:acerque|arranque|empiece)\b"),
    (
        "postpone",
        4,
        r"\b(?:lo|la)\s+(?:voy|vamos)\s+a\s+(?:analizar|evaluar|estudiar|consultar|pensar|ver|charlar|hablar|revisar)\b"
        r"|\b(?:lo|la)\s+(?:estoy|estamos)\s+(?:pensando|viendo|evaluando|analizando|consultando|charlando)\b"
        r"|\b(?:le|les|te)\s+(?:respondo|respondemos|confirmo|confirmamos|contesto|aviso|avisamos)\s+(?:a\s+la\s+brevedad"
        r"|en\s+breve|cuanto\s+antes|apenas\s+(?:pueda|sepa|tenga)|en\s+cuanto\s+(?:pueda|sepa|tenga))\b",
    ),
    (
        "postpone",
        4,
        r"\bbanca(?:me|nos)?\s+(?:un|unos|una)\s+(?:par\s+de\s+)?(?:dias|dia|semanas?|rato)\b"
        r"|\b(?:tengo|tenemos)\s+que\s+juntar\b|\ben\s+un\s+mes\s+capaz\b|\bcapaz\s+en\s+un\s+mes\b"
        r"|\b(?:dame|denme|deme)\s+un\s+par\s+de\s+dias\b|\b(?:estoy|estamos)\s+viendo\s+(?:la\s+plata|los\s+numeros"
        r"|el\s+tema|como\s+hacemos)\b",
    ),
    ("postpone", 4, r"\b(?:ahi|despues|luego|entonces)\s+(?:vemos|veo|lo\s+vemos|lo\s+veo|vemos\s+que\s+hacemos)\b"),
    ("postpone", 5, r"\b(?:lo|la)\s+retom(?:amos|o|emos|aremos)\b"),
    (
        "postpone",
        3,
        r"\bdespues\s+de\s+(?:las\s+fiestas|fin\s+de\s+ano|las\s+vacaciones|la\s+licencia|enero|carnaval"
        r"|(?:la\s+)?semana\s+de\s+turismo)\b|\bno\s+(?:puedo|podemos)\s+decidir\b",
    ),
    ("postpone", 3, r"\b(?:todavia|aun)\s+no\s+(?:se|decidi|decidimos|lo\s+se)\b"),
    (
        "postpone",
        3,
        r"\b(?:tengo|tenemos)\s+que\s+(?:verlo|pensarlo|consultarlo|hablarlo|charlarlo|ver|pensar|consultar|hablar)\b",
    ),
    ("postpone", 4, r"\b(?:necesito|dame|denme|deme)\s+(?:unos\s+dias|un\s+tiempo|tiempo|pensarlo)\b"),
    ("postpone", 1, r"\bunos\s+dias\b"),
    (
        "postpone",
        3,
        r"\b(?:estoy|estamos)\s+esperando\s+(?:que|a\s+que|la\s+aprobacion|el\s+ok|respuesta|el\s+prestamo)",
    ),
    ("postpone", 2, r"\b(?:estoy|estamos)\s+(?:complicad\w*|a\s+full|sin\s+tiempo|con\s+poco\s+tiempo)\b"),
    ("postpone", 2, r"\b(?:mas\s+adelante|por\s+ahora\s+no\s+se)\b"),
    ("postpone", 2, r"\b(?:esta|esta\s+semana|este\s+mes|hoy)\s+no\s+(?:puedo|podemos|llego)\b"),
    ("postpone", 2, r"\bsi\s+(?:avanzo|avanzamos|seguimos|compramos|lo\s+hacemos|arrancamos|empezamos)\b"),
    ("postpone", 4, r"\b(?:te|les)\s+(?:aviso|confirmo|digo)\s+si\b"),
    ("postpone", 1, r"\b(?:mi|con\s+mi)\s+(?:socio|socia|senora|esposa|esposo|marido|mujer|jefe|pareja|familia)\b"),
    # decline_quote
    ("decline_quote", 2, r"\bcar(?:o|a|os|as)\b|\bsalad(?:o|a|os|as|isimo|isima)\b"),
    ("decline_quote", 3, r"\bno\s+(?:me|nos)\s+da\W*$"),
    (
        "decline_quote",
        5,
        r"\b(?:prefiero|preferimos)\s+no\s+(?:seguir|avanzar|continuar|hacerlo|comprar|hacer\s+nada)\b",
    ),
    (
        "decline_quote",
        5,
        r"\b(?:presupuesto|precio|monto|total)\s+se\s+(?:me\s+|nos\s+)?(?:pasa|va|dispara|fue|escapa)\b",
    ),
    (
        "decline_quote",
        5,
        r"\bfuera\s+de\s+(?:lo\s+que\s+(?:puedo|podemos)\s+(?:gastar|pagar)|mi\s+alcance|nuestro\s+alcance)\b"
        r"|\bno\s+(?:puedo|podemos)\s+(?:gastar|pagar)\s+(?:tanto|eso)\b|\bse\s+(?:me|nos)\s+va\s+de\s+las\s+manos\b",
    ),
    (
        "decline_quote",
        5,
        r"\b(?:a|con|por|en)\s+(?:ese|este|esos|estos|esa|esta)\s+(?:precios?|monto|cifra|valor)\s+no\b",
    ),
    (
        "decline_quote",
        5,
        r"\b(?:nos\s+|me\s+)?decidi(?:mos)?\s+por\s+otr[oa]s?\b|\b(?:optamos|opte|elegimos|fuimos|nos\s+fuimos)\s+"
        r"(?:por|con)\s+otr[oa]s?\b",
    ),
    (
        "decline_quote",
        5,
        r"\b(?:hemos|he)\s+decidido\s+no\b|\bdecidi(?:mos)?\s+no\s+(?:continuar|seguir|avanzar|hacer|comprar)\b"
        r"|\bno\s+(?:lo|la)\s+(?:vamos|voy)\s+a\s+(?:tomar|aceptar|hacer|comprar)\b"
        r"|\b(?:desistimos|desisto|descartamos|descarto|declinamos|declino|descartad[oa])\b"
        r"|\b(?:dejalo|dejenlo|dejala|dejenla|queda)\s+sin\s+efecto\b|\b(?:anulalo|anulenlo|anulala|anulenla)\b",
    ),
    (
        "decline_quote",
        5,
        r"\b(?:precio|presupuesto|cotizacion|monto)\b.{0,15}\b(?:muy|re|demasiado|bastante|medio|un\s+poco)\s+"
        r"(?:car|salad|elevad|alt|fuert)\w*"
        r"|\b(?:muy|re|demasiado|bastante|medio)\s+(?:car|salad|elevad)\w*\s+(?:el|ese|este|su|tu)\s+"
        r"(?:precio|presupuesto|cotizacion)\b",
    ),
    (
        "decline_quote",
        4,
        r"\b(?:lo\s+|la\s+)?(?:hago|hacemos|voy\s+a\s+hacer|vamos\s+a\s+hacer)\s+con\s+(?:chapa|bloques?|ladrillos?"
        r"|madera|otr[oa]s?|otra\s+cosa)\b",
    ),
    ("decline_quote", 2, r"\b(?:muy|re|demasiado|bastante|carisimo|carisima)\s+car[oa]s?\b|\bcarisim[oa]\b"),
    (
        "decline_quote",
        4,
        r"(?<!\bte )(?<!\ble )(?<!\blo )(?<!\bla )(?<!\bles )(?<!\blos )(?<!\blas )(?<!\bme )(?<!\bse )(?<!\bnos )"
        r"\bpaso\b(?!\s+(?:a|al|el|la|los|las|de|del|con|un|una|mi|tu|su|precio|foto|fotos|comprobante|datos"
        r"|numero|mail|direccion|ahora|manana|hoy|en|despues|luego|que)\b)(?!\s+por\b(?!\s+ahora))",
    ),
    (
        "decline_quote",
        5,
        r"\b(?:compre|compramos|consegui|conseguimos|cerre|cerramos|encargue|encargamos|lo\s+hice|lo\s+hicimos)\s+"
        r"(?:en|con|por|a)\s+otr[oa]s?\b",
    ),
    ("decline_quote", 3, r"\ben\s+otr[oa]\s+(?:lado|lugar|parte|empresa|proveedor|barraca)\b"),
    ("decline_quote", 4, r"\b(?:me|nos)\s+quedo\s+con\s+(?:otr[oa]|la\s+competencia|el\s+otro|la\s+otra)\b"),
    ("decline_quote", 4, r"\bconsegui\w*\s+(?:algo\s+)?mas\s+barato\b"),
    ("decline_quote", 4, r"\bno\s+(?:me|nos)\s+(?:interesa|sirve|conviene|cierra)\b"),
    (
        "decline_quote",
        5,
        r"\bno\s+(?:vamos|voy)\s+a\s+(?:seguir|avanzar|comprar|hacer|hacerlo|necesitar|precisar|continuar)\b",
    ),
    ("decline_quote", 3, r"\bno\s+va\b(?!\s+a\b)"),
    (
        "decline_quote",
        5,
        r"\b(?:se\s+(?:nos\s+|me\s+)?(?:va|fue|iria|escapa|pasa|paso)|fuera|excede)\s+(?:de|del)\s+(?:presupuesto|precio)\b",
    ),
    (
        "decline_quote",
        4,
        r"\bno\s+(?:hacemos|haremos|vamos\s+a\s+hacer|hago|voy\s+a\s+hacer)\s+(?:la\s+obra|el\s+techo|la\s+pared"
        r"|nada|el\s+trabajo)\b",
    ),
    (
        "decline_quote",
        4,
        r"\b(?:no\s+gracias|mejor\s+no|lo\s+dejamos|lo\s+dejo|dejalo\s+ahi|dejemoslo|desisto|desistimos"
        r"|cancel(?:o|amos)\s+(?:la|el)\s+(?:cotizacion|presupuesto|pedido|compra))\b",
    ),
    (
        "decline_quote",
        4,
        r"\b(?:ya\s+no\s+(?:lo\s+)?(?:necesito|preciso|necesitamos)|no\s+lo\s+(?:necesito|preciso)\s+mas)\b",
    ),
    ("decline_quote", 3, r"\bal\s+final\s+no\b"),
    ("decline_quote", 4, r"\bno\s+(?:me|nos)\s+da\s+(?:el\s+)?(?:presupuesto|bolsillo|la\s+plata|el\s+cuero)\b"),
    ("decline_quote", 2, r"\bgracias\s+(?:igual|de\s+todas\s+formas|de\s+todos\s+modos)\b"),
    ("decline_quote", 2, r"\b(?:otra\s+empresa|la\s+competencia|otro\s+proveedor)\b"),
    ("decline_quote", 3, r"\bpor\s+ahora\s+no\b"),
    # accept_quote: explicit acceptance only; "perfecto"/"dale" alone is just an acknowledgement.
    ("accept_quote", 4, r"(?<!\bno )\bconfirm(?:o|amos|ado|ada)\b"),
    (
        "accept_quote",
        4,
        r"\b(?:avancemos|avanzamos|avanzar\s+con|sigamos\s+adelante|adelante\s+con|dale\s+para\s+adelante"
        r"|(?:quiero|queremos|podemos|vamos\s+a)\s+avanzar)\b",
    ),
    ("accept_quote", 4, r"\bvamos\s+(?:con|por)\b"),
    (
        "accept_quote",
        5,
        r"\btrato\s+hecho\b|\bcerr(?:amos|emos|o)\s+(?:el\s+)?(?:trato|negocio)\b"
        r"|\bcerr(?:amos|emos|o)\s+(?:asi|ahi|con\s+ustedes|con\s+vos)\b",
    ),
    (
        "accept_quote",
        5,
        r"\b(?:me|nos)\s+(?:quedo|quedamos)\s+con\s+(?:la|el|esa|ese|esta|este)\s+"
        r"(?:opcion|de|cotizacion|presupuesto|primer\w*|segund\w*|ultim\w*|mas\s+barat\w*)\b",
    ),
    (
        "accept_quote",
        5,
        r"\b(?:le\s+)?(?:damos|demos|vamos|doy)\s+(?:para|pa)\s+adelante\b"
        r"|\b(?:hacemos|vamos\s+con|elegimos|elijo|nos\s+quedamos\s+con)\s+la\s+opcion\b"
        r"|(?<!\bno )\b(?:lo|la)\s+hacemos\W*$",
    ),
    (
        "accept_quote",
        5,
        r"\b(?:avancen|sigan\s+adelante|continuen)\b|\bva\s+(?:la|el)\s+(?:cotizacion|presupuesto|pedido)\b"
        r"|\bde\s+acuerdo\s+con\s+(?:el|los|la|las)\s+(?:precios?|cotizacion|presupuesto|condiciones)\b",
    ),
    ("accept_quote", 5, r"\bquedamos\s+asi\b|\bva\s+esa\b|\bcerr(?:amos|emos)\s*(?:[.,!]|$)"),
    ("accept_quote", 4, r"\bdale\s+que\s+va\b|\bde\s+una\b.{0,15}\b(?:hacelo|haganlo|mandalo|mandenlo|dale|va)\b"),
    ("accept_quote", 4, r"\b(?:hacelo|haganlo|hacelo\s+nomas|pueden\s+proceder|puede\s+proceder|proceda|procedan)\b"),
    (
        "accept_quote",
        5,
        r"^\W*(?:si\W+)*(?:lo|la|los|las)\s+quiero\W*$|\b(?:haceme|hacenos|hagan|haganme)\s+el\s+pedido\b"
        r"|\besa\s+va\b|\b(?:va|vamos\s+con)\s+la\s+opcion\s+\d\b"
        r"|\b(?:hacemos|hago|hagamos|armemos|armamos|armame|arma)\s+el\s+pedido\b",
    ),
    (
        "accept_quote",
        5,
        r"\bcerr(?:amos|emos|o)\s+con\s+(?:la|el|esa|ese|esta|este)\s+(?:de|opcion|cotizacion|presupuesto|iso\w*)\b",
    ),
    ("accept_quote", 4, r"\b(?:arranquen|empiecen|denle|metanle|metele|mandale\s+nomas|dale\s+nomas)\b"),
    ("accept_quote", 4, r"(?<!\bsi )\b(?:arrancamos|arranquemos|empecemos|hagamoslo|procedamos|proceda|procedan)\b"),
    ("accept_quote", 4, r"(?<!\bno )\bme\s+cierra\b"),
    (
        "accept_quote",
        4,
        r"(?<!\bmarcalo )(?<!\bmarcala )(?<!\bponelo )(?<!\bponela )(?<!\bdejalo )(?<!\bdejala )"
        r"\b(?:acepto|aceptamos|aceptada|aceptado|apruebo|aprobamos|aprobada|aprobado)\b",
    ),
    ("accept_quote", 3, r"\b(?:lo|los|las|la)\s+(?:compro|compramos|llevo|llevamos)\b|\bme\s+(?:lo|los)\s+llevo\b"),
    ("accept_quote", 2, r"(?<!\bno )\b(?:me|nos)\s+(?:gusto|convence|convencio|sirve|viene\s+bien)\b"),
    (
        "accept_quote",
        2,
        r"\b(?:mandalo|mandalos|mandenlo|mandenlos|envialo|envialos|facturalo|facturame|haceme\s+la\s+factura)\b",
    ),
    ("accept_quote", 3, r"\bcomo\s+seguimos\b"),
    # quote_request
    (
        "quote_request",
        4,
        r"\bcuanto\s+(?:me\s+|nos\s+|te\s+|le\s+|les\s+)?(?:sale|salen|saldria|saldrian|seria|serian|cuesta|cuestan"
        r"|costaria|costarian|vale|valen|cobran|cobras|cobrarian|queda|quedaria|es|son|esta|estan)\b",
    ),
    ("quote_request", 1, r"\bcuanto\b"),
    (
        "quote_request",
        4,
        r"\bque\s+(?:me\s+|nos\s+|te\s+|le\s+)?(?:sale|salen|saldria|saldrian|cuesta|cuestan|costaria|vale|valen)\b",
    ),
    ("quote_request", 4, r"\bprecios?\b"),
    (
        "quote_request",
        4,
        r"\bcoti[sz](?:ar|a|as|ame|arme|en|enme|aria|arian|ale|emos|arias|an|amos|ando|ame|enos|anos|arnos|aras)\b",
    ),
    (
        "quote_request",
        4,
        r"\b(?:quiero|queria|quisiera|necesito|necesitaria|preciso|pasame|pasa|pasas|pasarme|pasar|mandame|manda"
        r"|mandas|mandan|mandar|mandarme|envia|enviame|envias|envian|enviarme|pasan|das|dame|haceme|hacer|haces|hace|hacen|armame|armar"
        r"|solicito|solicitar|pedir|pido|podes|podrias|pueden|podrian)\s+(?:(?:me|una|un|el|la|los|las|otra|otro"
        r"|nueva|nuevo|de|del|por|favor|pasar|mandar|hacer)\s+){0,3}(?:cotizacion|presupuesto|precio|precios"
        r"|valor|costo|total)\b",
    ),
    ("quote_request", 2, r"\b(?:cotizacion|presupuesto)\s+(?:de|para|por|del)\b"),
    ("quote_request", 3, r"\b(?:costo|costos|valor|valores|tarifa)\b"),
    (
        "quote_request",
        3,
        r"\b(?:descuento|rebaja|oferta|promo|promocion|bonificacion|mejor\s+precio|precio\s+especial)\b",
    ),
    ("quote_request", 3, r"\ba\s+cuanto\b"),
    (
        "quote_request",
        4,
        r"\bcuanto\s+(?:el|la|por|x)\s+(?:m2|metro|metros?\s+cuadrados?|metro\s+lineal|panel|unidad|chapa|placa)\b",
    ),
    ("quote_request", 4, r"\ba\s+como\s+(?:esta|estan|sale|salen|anda|andan|tenes|tienen)\b"),
    ("quote_request", 2, r"\b(?:con|sin|mas)\s+iva\b"),
    ("quote_request", 1, r"\b(?:sale|salen|saldria|cuesta|cuestan)\b"),
    # product_info
    ("product_info", 2, r"\b(?:tienen|tenes|tiene|hay|manejan|venden|vendes|trabajan\s+con|fabrican|hacen)\b"),
    ("product_info", 4, r"\bstock\b"),
    ("product_info", 3, r"\b(?:diferencia|diferencias|comparacion|versus|vs)\b"),
    (
        "product_info",
        3,
        r"\b(?:recomend(?!o\b|aron\b)\w*|recomiend\w*|aconsej\w*|sugeri\w*|sugier\w*|conviene|convendria)\b",
    ),
    (
        "product_info",
        4,
        r"\bque\s+(?:panel|paneles|espesor|material|aislante)\s+(?:usan|uso|usar|va|lleva|llevan|conviene|me\s+sirve"
        r"|recomiendan|se\s+usa|necesito)\b",
    ),
    ("product_info", 3, r"\b(?:que|cual|cuanto)\s+(?:espesor|medida|medidas|largo|ancho|color|colores|modelo)\b"),
    ("product_info", 3, r"\bcual\s+(?:es\s+)?(?:mejor|aisla|conviene|me\s+sirve|uso|elijo|recomendas)\b"),
    (
        "product_info",
        2,
        r"\b(?:aisla|aislacion|aislamiento|aislante|termic\w*|acustic\w*|ignifug\w*|fuego|resistencia"
        r"|durabilidad|garantia|vida\s+util)\b",
    ),
    ("product_info", 1, r"\bcolor(?:es)?\b"),
    (
        "product_info",
        3,
        r"\b(?:demora|demoran|tarda|tardan|plazo|plazos|cuantos\s+dias|anticipacion)\b"
        r"|\bcon\s+cuant[oa]\s+(?:tiempo|dias)\b",
    ),
    ("product_info", 2, r"\b(?:entregan|envian|hacen\s+envios|llegan|mandan)\s+(?:a|al|en|hasta|para)\b"),
    ("product_info", 2, r"\b(?:trabajan|abren|atienden|horario|horarios|feriados)\b"),
    ("product_info", 1, r"\b(?:sabados?|domingos?)\b"),
    (
        "product_info",
        3,
        r"\b(?:local|showroom|sucursal|direccion|ubicacion|donde\s+(?:estan|quedan|queda)|ir\s+a\s+ver)\b",
    ),
    (
        "product_info",
        3,
        r"\b(?:hasta\s+que\s+(?:largo|medida)|largo\s+maximo|medida\s+maxima|largos?\s+disponibles|que\s+largos"
        r"|vienen?\s+en|vienen\s+con|viene\s+con|incluye|incluyen|traen|trae|prepintad\w*|pintar\w*|terminacion)\b",
    ),
    (
        "product_info",
        2,
        r"\b(?:ficha\s+tecnica|catalogo|folleto|especificaciones|caracteristicas|informacion|info|manual"
        r"|instalar\w*|instalacion|colocar\w*|colocacion|montaje)\b",
    ),
    ("product_info", 2, r"\b(?:sirve|sirven)\s+para\b|\bse\s+puede\b"),
    ("product_info", 3, r"\baptos?\b|\baptas?\b|\bse\s+(?:usan?|utilizan?)\s+para\b"),
    (
        "product_info",
        3,
        r"\bpara\s+cuando\s+(?:lo|los|la|las)\s+(?:tendria|tendriamos|tengo|tenemos|tienen)\b"
        r"|\bsi\s+(?:compro|compramos|encargo|encargamos|pido|pedimos)\s+(?:hoy|ahora|manana|esta\s+semana)\b",
    ),
    ("product_info", 3, r"\b(?:aguanta|aguantan|soporta|soportan|resiste|resisten)\b|\b(?:mas|menos)\s+espesor\b"),
    (
        "product_info",
        3,
        r"\bhasta\s+\w+(?:\s+\w+)?\s+(?:llegan|envian|mandan|entregan|van)\b"
        r"|\b(?:llegan|envian|mandan|entregan|van)\b.{0,25}\bhasta\s+\w+|\ba\s+medida\b",
    ),
    ("product_info", 4, r"\ba\s+que\s+hora\s+(?:cierran|abren|atienden|cierra|abre)\b|\bhasta\s+que\s+hora\b"),
    ("product_info", 2, r"\b(?:sirve|sirven)\s+(?:el|la|los|las)\s+\w+\s+para\b"),
    (
        "product_info",
        3,
        r"\b(?:pueden|podes|podrian|hacen)\s+(?:hacer\s+)?(?:la\s+)?(?:entrega|entregas|envio|envios|flete)\b",
    ),
    ("product_info", 2, r"\b(?:consultar|consulta|consultarles|averiguar)\b|(?<!\blo )\bconsulto\b"),
    ("product_info", 3, r"\b(?:pueden|podes|podrian)\s+(?:mandar|enviar|llevar|traer)\w*\b"),
    (
        "product_info",
        2,
        r"\b(?:luz\s+maxima|separacion\s+entre|apoyos|correas|pendiente\s+minima|cuanto\s+(?:aguanta|soporta|pesa))\b",
    ),
    ("product_info", 3, r"\bque\s+(?:es|son)\s+(?:el|la|los|las)?\s*(?:iso\w*|panel\w*|eps|pir)\b"),
    # greeting
    (
        "greeting",
        1,
        r"\b(?:hola|holaa|holis|buenas|wenas|buen\s+dia|buenos\s+dias|buenas\s+(?:tardes|noches)|que\s+tal"
        r"|como\s+(?:andan|anda|estan|esta|va|andas|estas)|saludos|hey|hi|hello)\b",
    ),
    ("greeting", 1, r"\bme\s+(?:pasaron|dieron|recomendaron)\s+(?:este|tu|su|el)\s+(?:numero|contacto|whatsapp|wsp)\b"),
    ("greeting", 1, r"\b(?:soy|mi\s+nombre\s+es|me\s+llamo)\b"),
    (
        "greeting",
        2,
        r"\bme\s+(?:recomendo|recomendaron|paso|pasaron|dio|dieron)\s+(?:tu|su|el|este)?\s*(?:numero|contacto|whatsapp"
        r"|un\s+amig[oa]|una\s+amiga|un\s+conocido|un\s+vecino)\b",
    ),
    # other: plain acknowledgements and wrong numbers.
    (
        "other",
        1,
        r"\b(?:jaja\w*|jeje\w*|ok|oka|okey|okis|bueno|gracias|perfecto|genial|listo|barbaro|buenisimo|dale"
        r"|de\s+acuerdo|entendido)\b",
    ),
    ("other", 2, r"\bgracias\s+por\s+(?:la\s+|el\s+|los\s+|tu\s+|su\s+)?(?:info|informacion|respuesta|datos|dato)\b"),
    (
        "other",
        4,
        r"\b(?:me\s+equivoque|numero\s+equivocado|equivocado\s+de\s+numero|no\s+era\s+para\s+(?:vos|ustedes|usted|aca)"
        r"|chat\s+equivocado)\b",
    ),
    (
        "other",
        5,
        r"\b(?:buscando|buscan|necesitan|necesitando|precisan|toman|tomando|contratan|contratando)\s+"
        r"(?:personal|gente|empleados?|operarios?|colocadores?|instaladores?)\b"
        r"|\b(?:curriculum|cv)\b|\bbusco\s+trabajo\b",
    ),
)
_RULES: tuple[tuple[str, int, re.Pattern[str]], ...] = tuple(
    (intent, weight, re.compile(pattern)) for intent, weight, pattern in _RULES_RAW
)
_NEED_RE = re.compile(
    r"\b(?:necesito|necesitaria|necesitamos|preciso|precisaria|quiero|queria|quisiera|queremos|busco|buscaba"
    r"|me\s+interesa|me\s+interesaria|me\s+gustaria)\b"
)
# Tie-break: the more specific or more consequential intent wins.
_PRIORITY = (
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


# --------------------------------------------------------------------------------------------
# Entity patterns
# --------------------------------------------------------------------------------------------

_ORDER_REF_RE = re.compile(
    r"\b(?:pedido|orden|cotizacion|presupuesto|factura|compra|remito|ticket)\s*(?:de\s+compra\s*)?"
    r"[?.,:]?\s*(?:nro\s*)?(?:es\s+)?(?:el\s+)?[:#]?\s*#?\s*([a-z]{0,3}-?\d{3,})\b"
    r"(?!\s*(?:dolares|dolar|usd|pesos|\$|u\$s|mil\b))"
    r"|\b(?:nro|numero)\s+de\s+(?:pedido|orden|cotizacion|presupuesto|factura|compra)\s*(?:es\s+)?[:#]?\s*"
    r"([a-z]{0,3}-?\d{3,})\b"
    r"|(?<![\w&])#\s*(\d{3,})\b"
    # "ya esta mi pedido? es el 5127"
    r"|\b(?:pedido|orden|compra|encargo)\b[^.!?\d]{0,40}[.!?]?\s*es\s+(?:el|la)\s+(?:nro\s+)?(\d{3,6})\b"
)
_PERCENT_RE = re.compile(r"\d+(?:[.,]\d+)?\s*(?:%|por\s*ciento)")
_TIME_RE = re.compile(r"\b\d{1,2}(?::\d{2})\s*(?:hs|hrs|h|am|pm)?\b|\b\d{1,2}\s*(?:hs|hrs|horas|am|pm)\b")
_TEMPERATURE_RE = re.compile(r"(?<![\w.,])-\s?\d+(?:[.,]\d+)?(?:\s*(?:°|o\b|grados))?|\b\d+\s*(?:°|grados)")
_PHONE_RE = re.compile(r"(?<![\w.,])(?:\+?598\s?)?0?9\d[\s-]?\d{3}[\s-]?\d{3}(?![\w.,])|(?<![\w.,])\d{8,}(?![\w.,])")
_SLASH_DATE_RE = re.compile(r"(?<![\w.,/])(\d{1,2})\s*/\s*(\d{1,2})(?:\s*/\s*(\d{2,4}))?(?![\w/])")
_MONTH_DATE_RE = re.compile(
    rf"\b(?:el\s+)?(?:dia\s+)?(\d{{1,2}})\s+de\s+({_MONTH_ALT})\b(?:\s+(?:de|del)\s+(\d{{4}}))?"
)
_DAY_DATE_RE = re.compile(
    r"\b(?:el|para\s+el|antes\s+del|hasta\s+el)\s+(?:dia\s+)?(\d{1,2})\b"
    r"(?!\s*(?:[.,]\d|%|x\b|m\b|mts?\b|metros?\b|cm\b|mm\b|paneles|p\b|dolares|pesos|hs\b|horas|de\s+(?:alto|largo|ancho)))"
)

_SLOPES_RE = re.compile(r"\b(?:a\s+)?(dos|2|una|un|1)\s+(?:sola\s+)?(?:aguas?|caidas?|pendientes?)\b")
_AREA_RE = re.compile(
    rf"{_NUM}\s*(?:m2|mt2|mts2|mtrs2|mtr2|m\^2|metros?\s*2|metros?\s+cuadrados?|mts?\s+cuadrados?"
    rf"|mtrs?\s+cuadrados?|m\s+cuadrados?)(?![a-z0-9])"
)
_DIM_LABEL = r"(?:de\s+)?(alto|altura|largo|ancho|lineales|lineal|caida|frente)\b"
_TRIPLE_DIMS_RE = re.compile(
    rf"{_NUM}\s*(?:{_LEN_UNIT})?\s*[x×*]\s*{_NUM_AFTER}\s*(?:{_LEN_UNIT})?\s*[x×*]\s*{_NUM_AFTER}\s*(?:{_LEN_UNIT})?"
)
_DIMS_RE = re.compile(
    rf"{_NUM}\s*(?:{_LEN_UNIT})?\s*(?:{_DIM_LABEL})?\s*(?:[x×*]|por)\s*{_NUM_AFTER}\s*(?:{_LEN_UNIT})?\s*(?:{_DIM_LABEL})?"
)
_LABELED_RE = re.compile(
    rf"{_NUM}\s*(?:{_LEN_UNIT})?\s*{_DIM_LABEL}"
    rf"|\b(alto|altura|largo|ancho)\s*(?:de|:|=|total)?\s*{_NUM}\s*(?:{_LEN_UNIT})?"
    rf"|{_NUM}\s*(ml)\b"
)

_FAMILY_TOKEN = (
    r"(?:\biso\s?-?[a-z]+|\bpanel(?:es)?\s+(?:de\s+|para\s+)?(?:camaras?|frio|frigorific\w*|eps|poliestireno|pir"
    r"|pur|poliuretano))"
)
_THICKNESS_AFTER_FAMILY_RE = re.compile(
    rf"{_FAMILY_TOKEN}(?:\s+(?:3\s?g|eps|pir|pur|comun|de|del|en|color|blanc[oa]s?|gris|roj[oa]s?|verdes?))*"
    rf"\s*(?:de\s+)?{_NUM}\s*(mm|milimetros|cm|centimetros)?(?![a-z0-9])"
    r"(?!\s*(?:[x×*]\s*\d|por\s+\d|metros?\b|mts?\b|mtrs?\b|m\b|m2|mt2|ml\b|%|paneles|panel\b|p\b|dolares|pesos))"
)
# a family named right before: "isodec eps 150 x 5,80" is a thickness, then a length
_FAMILY_BEFORE_RE = re.compile(rf"{_FAMILY_TOKEN}(?:\s+(?:3\s?g|eps|pir|pur))?\s*(?:de\s+)?$")
MAX_PANEL_LENGTH_M = 14
_THICKNESS_ESPESOR_RE = re.compile(
    rf"\bespesor(?:es)?\s*(?:de\s+|:\s*)?{_NUM}\s*(mm|cm)?(?![a-z0-9])"
    rf"|{_NUM}\s*(mm|cm)?\s*de\s+espesor\b"
)
_THICKNESS_UNIT_RE = re.compile(rf"{_NUM}\s*(mm|milimetros|cm|centimetros)(?![a-z0-9])")
_KNOWN_THICKNESS = {30, 40, 50, 60, 75, 80, 100, 120, 150, 200, 250}
_THICKNESS_BARE_RE = re.compile(
    r"\b(?:de|en)\s+(\d{2,3})(?![\w.,])"
    r"(?!\s*(?:[x×*]\s*\d|por\s+\d|metros?\b|mts?\b|m\b|m2|%|paneles|p\b|dolares|pesos|dias|u\$s|usd))"
)

_COUNT_UNITS = r"(?:paneles|panel|chapas|chapa|placas|placa|unidades|unid|p)"
_COUNT_RE = re.compile(
    rf"(?<![\w.,])(\d+|{'|'.join(w for w in _NUMBER_WORDS if _NUMBER_WORDS[w] > 1)})\s*{_COUNT_UNITS}(?![\w/])"
)
_COUNT_BEFORE_FAMILY_RE = re.compile(r"(?<![\w.,])(\d{1,3})\s+(?=iso\s?-?[a-z]{3,})")
_COUNT_TAIL_RE = re.compile(
    rf"^(?:\s+|,|(?:de|del|en|color|eps|pir|pur|3\s?g|mm|blanc[oa]s?|gris|roj[oa]s?|verdes?|iso\w*)\b)*?"
    rf"\bde\s+{_NUM}\s*(?:{_LEN_UNIT})?(?![a-z0-9])"
)
_METERS_RE = re.compile(
    rf"{_NUM}\s*(metros?|mtrs?|mts?|m)(?![a-z0-9])\.?"
    r"(?!\s*(?:2|cuadrad))(\s*(?:de\s+)?(?:pared|paredes|fachada|muro|cerramiento|frente)\b)?"
)
_CM_RE = re.compile(rf"{_NUM}\s*(?:cm|centimetros?)(?![a-z0-9])")

_AMOUNT_NUM = r"(\d{1,3}(?:[.,]\d{3})+(?![\d])|\d+(?:[.,]\d{1,2})?)(?:\s*(mil|k)\b)?"
_CURRENCY = r"(?:dolares|dolar|dlls|usd|us\$|u\$s|u\$d|u\$|pesos|uyu|\$u|\$)"
_AMOUNT_CURRENCY_RE = re.compile(rf"{_CURRENCY}\s*{_AMOUNT_NUM}|(?<![\w.,]){_AMOUNT_NUM}\s*{_CURRENCY}(?![a-z])")
_AMOUNT_CONTEXT_RE = re.compile(
    r"\b(?:los|unos|saldo\s+de|total\s+de|suma\s+de|sena\s+de|adelanto\s+de|anticipo\s+de|transferi|transfiero"
    r"|deposite|deposito|pague|pago|abone|abono"
    r"|gire|giro|debo|debia|adeudo)\s+(?:los\s+)?"
    + _AMOUNT_NUM
    + r"(?!\s*(?:[.,]\d|%|x\b|m\b|mts?\b|metros?\b|cm\b|mm\b|m2|paneles|panel\b|p\b|chapas|dias|de\s+(?:alto|largo|ancho)"
    r"|/|de\s+(?:" + _MONTH_ALT + r")\b))"
)

_MATERIAL_LEAD = r"\bpanel(?:es)?\s+(?:(?:de|para)\s+(?:techo|pared|cubierta|fachada|cerramiento)\s+)?(?:de\s+|en\s+)?"
_EPS_MATERIAL_RE = re.compile(_MATERIAL_LEAD + r"(?:eps|poliestireno|espuma\s?plast|isopor)\b")
_PIR_MATERIAL_RE = re.compile(_MATERIAL_LEAD + r"(?:pir|pur|poliuretano)\b")
_FAMILY_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "ISODEC_PIR",
        re.compile(r"\biso\s?-?de(?:c|k|ck|cc|x)s?\b(?:\s+(?:de\s+)?\d+\s*(?:mm)?)?\s*-?\s*(?:pir|pur|poliuretano)\b"),
    ),
    ("ISODEC_EPS", re.compile(r"\biso\s?-?de(?:c|k|ck|cc|x)s?\b")),
    ("ISOROOF_3G", re.compile(r"\biso\s?-?r(?:oo|o|u|uu)f+(?:e|s)?\b")),
    ("ISOPANEL_EPS", re.compile(r"\biso\s?-?pane?l+(?:es|s)?\b")),
    ("ISOWALL_PIR", re.compile(r"\biso\s?-?(?:wall?|wal+|gual+|ual+)s?\b")),
    ("ISOFRIG_PIR", re.compile(r"\biso\s?-?fri(?:g|j)\w*")),
    ("ISOFRIG_PIR", re.compile(r"\bpanel(?:es)?\s+(?:de\s+|para\s+)?(?:camaras?|frio|frigorific\w*)\b")),
)
_USE_RE = re.compile(
    r"\b(?P<roof>techo|techos|techito|techar|techado|techada|tejado|cubierta|cubiertas|tinglado|tinglados"
    r"|cobertizo)\b"
    r"|\b(?P<wall>pared|paredes|fachada|fachadas|cerramiento|cerramientos|muro|muros|tabique|tabiques)\b"
    r"|\b(?P<cold_room>camaras?|frigorific[oa]s?|cuarto\s+frio)\b"
)
_COLOR_RE = re.compile(r"\b(blanc[oa]s?|gris|grises|roj[oa]s?|colorad[oa]s?|verdes?)\b")
# "otro color que no sea blanco", "cualquiera menos gris": the colour not wanted.
_COLOR_NOT_RE = re.compile(r"(?:\bno\s+sea|\bmenos|\bexcepto|\bsalvo|\bque\s+no|\bno\s+(?:en|de))\s*(?:el\s+|en\s+)?$")
_COLOR_NAMES = {"blanc": "Blanco", "gris": "Gris", "roj": "Rojo", "color": "Rojo", "verd": "Verde"}

_SHIPPING_RE = re.compile(
    r"(?P<true>\bcon\s+(?:el\s+)?(?:flete|envio|entrega\s+a\s+domicilio)\b"
    r"|(?<!\bel )(?<!\bdel )(?<!\bde )(?<!\bun )\b(?:flete|envio)\s+(?:a|al|hasta|para)\b"
    r"|\b(?:me|nos)\s+(?:lo|los|la|las)\s+(?:mandan|mandas|mandarian|envian|envias|enviarian|traen|traes|llevan"
    r"|llevas|alcanzan|manden|envien|traigan|lleven|alcancen|mandes|envies)\b"
    r"|\b(?:mandalo|mandalos|mandamelo|mandamelos|mandenlo|mandenlos|envialo|envialos|enviamelo|enviamelos"
    r"|traemelo|traemelos)\b"
    r"|\b(?:lo|los|la|las)\s+(?:pueden|podes|podrian)\s+(?:mandar|enviar|traer|llevar)\b"
    r"|(?<!\bno )\b(?:lo|los|la|las)\s+(?:mandan|envian|traen|llevan|mandarian|enviarian|llevarian)\s+(?:a|al|hasta|para)\b"
    r"|\bentrega\s+en\s+(?:obra|domicilio)\b|\bflete\s+incluido\b|\bincluido\s+(?:el\s+)?flete\b"
    r"|\bincluyendo\s+(?:el\s+)?flete\b|\bnecesito\s+(?:el\s+)?(?:flete|envio)\b"
    r"|\bcon\s+entrega\b|\bmas\s+(?:el\s+)?(?:envio|flete)\b|\by\s+(?:con\s+)?(?:el\s+)?(?:flete|envio)\b)"
    r"|(?P<false>\bsin\s+(?:el\s+)?(?:flete|envio)\b"
    r"|\bretir(?:o|amos|aria|ariamos|ar|a|arlo|arlos)\b"
    r"|\b(?:paso|pasamos|pasaria|pasariamos|pasar|voy|vamos|va|ir)\s+a\s+(?:buscar\w*|retirar\w*|levantar\w*)"
    r"|\blevant(?:o|amos|ar)\s+(?:en|yo|nosotros|de)\b|\b(?:lo|los|la|las)\s+levant(?:o|amos)\b"
    r"|\b(?:lo|los)\s+busco\b|\bbusco\s+(?:yo|en\s+fabrica)\b)"
)

# Capitalised words after "soy ..." are a name; lowercase ones only after "me llamo"/"mi nombre es"
# or when the first word is a known first name, so "soy de salto" or "soy cliente" are not names.
_NAME_RE = re.compile(
    r"(?i:\b(soy|mi\s+nombre\s+es|me\s+llamo|les\s+habla|te\s+habla|les\s+escribe|te\s+escribe"
    r"|(?:^|(?<=[,.!¡]\s)|(?<=[,.!¡]))habla|saludos[,.]?|atentamente[,.]?|atte\.?|cordialmente[,.]?)\s+"
    # a title between: "les escribe el arq. Pablo Gimenez"
    r"(?:(?:el|la)\s+)?(?:(?:arq|ing|dr|dra|sr|sra|esc|cr|arquitect[oa]|ingenier[oa]|contador[a]?)\.?\s+)?)"
    r"((?:[^\W\d_][^\W\d_'’-]*(?:['’-][^\W\d_]+)?)(?:[ \t]+[^\W\d_][^\W\d_'’-]*(?:['’-][^\W\d_]+)?){0,3})"
)
_NAME_STOPWORDS = frozenset(
    (
        "a abrazo abrazos al arq arquitecta arquitecto atentamente bendiciones buen buenas busco clienta cliente como "
        "con constructor consulto cordial cordiales cordialmente exitos gracias muchas saludo saludos slds "
        "cuanto de del desde duena dueno e el en encargada encargado escribo estoy gracias hablo hola ing "
        "ingeniera ingeniero la las le les los me mi necesitaria necesito no nueva nuevo o para pero por "
        "porque precio que queria quien quiero quisiera si soy sr sra su te tengo trabajo tu un una vivo y ya "
        "yo"
    ).split()
)
_FIRST_NAMES = frozenset(
    (
        "adriana agustin agustina alberto alejandra alejandro alvaro ana andrea andres antonio ariel beatriz "
        "bruno camila carlos carolina cecilia cesar claudia cristian cristina damian daniel daniela diego "
        "dolores eduardo elena emilia emiliano enrique esteban fabian facundo federico felipe fernanda fernando "
        "florencia francisco franco gabriel gabriela gonzalo graciela guillermo gustavo hector hugo ignacio "
        "ines javier joaquin jorge jose josefina juan julio laura leandro leonardo lorena lucas lucia luis "
        "manuel marcelo marcos maria mariana mario martin martina mateo matias mauricio maximiliano miguel "
        "mercedes monica natalia nestor nicolas oscar pablo patricia paula pedro rafael ramon raul ricardo roberto "
        "rodrigo romina rosa rosario ruben santiago sebastian sergio silvia sofia soledad susana tomas valentina "
        "valeria veronica victor victoria walter"
    ).split()
)


# --------------------------------------------------------------------------------------------
# Entity extraction
# --------------------------------------------------------------------------------------------


def _name_extract(*, text: str) -> str | None:
    for match in _NAME_RE.finditer(text):
        trigger = re.sub(r"\s+", " ", match.group(1).lower())
        explicit = trigger in {"mi nombre es", "me llamo"}
        words: list[str] = []
        for word in match.group(2).split():
            plain = _text_normalize(text=word)
            if plain in _NAME_STOPWORDS or (plain in _PLACE_ZONE and plain not in _FIRST_NAMES):
                break
            capitalised = word[0].isupper()
            if not words and not (capitalised or explicit or plain in _FIRST_NAMES):
                break
            if words and not capitalised and not (explicit or words[0].islower()):
                break
            # An all-lowercase name is trusted for first name and surname only: what follows is the message.
            if words and not capitalised and not explicit and len(words) >= 2:
                break
            words.append(word)
        if words:
            return " ".join(w if w[0].isupper() else w.capitalize() for w in words)
    return None


def _email_extract(*, text: str) -> str | None:
    match = _EMAIL_RE.search(text)
    return match.group(0).rstrip(".") if match else None


def _local_date(*, sent_at: datetime | str | None) -> date:
    if sent_at is None:
        moment = datetime.now(MONTEVIDEO_TZ)
    elif isinstance(sent_at, datetime):
        moment = sent_at
    elif isinstance(sent_at, str):
        try:
            moment = datetime.fromisoformat(sent_at.strip().replace("Z", "+00:00"))
        except ValueError as error:
            raise ValueError(f"sent_at must be an ISO 8601 datetime, got {sent_at!r}.") from error
    else:
        raise TypeError(f"sent_at must be a datetime, an ISO 8601 string or None, got {type(sent_at).__name__}.")
    # A naive timestamp is taken as Montevideo wall-clock time, which is what WhatsApp users see.
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=MONTEVIDEO_TZ)
    return moment.astimezone(MONTEVIDEO_TZ).date()


def _date_on_or_after(*, today: date, year: int | None, month: int, day: int) -> date | None:
    try:
        if year is not None:
            return date(year + 2000 if year < 100 else year, month, day)
        candidate = date(today.year, month, day)
        return candidate if candidate >= today else date(today.year + 1, month, day)
    except ValueError:
        return None


def _dates_find(*, text: str, today: date) -> tuple[list[tuple[int, date]], list[tuple[int, int]]]:
    """Every date expression with its position, and the spans it used (to keep them out of numbers)."""
    found: list[tuple[int, date]] = []
    spans: list[tuple[int, int]] = []

    for match in _SLASH_DATE_RE.finditer(text):
        day, month = int(match.group(1)), int(match.group(2))
        year = int(match.group(3)) if match.group(3) else None
        resolved = _date_on_or_after(today=today, year=year, month=month, day=day) if 1 <= month <= 12 else None
        if resolved:
            found.append((match.start(), resolved))
            spans.append(match.span())
    for match in _MONTH_DATE_RE.finditer(text):
        year = int(match.group(3)) if match.group(3) else None
        resolved = _date_on_or_after(today=today, year=year, month=_MONTHS[match.group(2)], day=int(match.group(1)))
        if resolved:
            found.append((match.start(), resolved))
            spans.append(match.span())
    for match in _DAY_DATE_RE.finditer(text):
        if any(start <= match.start() < end for start, end in spans):
            continue
        day = int(match.group(1))
        if not 1 <= day <= 31:
            continue
        # "el 20" is this month's 20th, or next month's once it has passed.
        candidate = next((d for d in _days_numbered(today=today, day=day) if d >= today), None)
        if candidate:
            found.append((match.start(), candidate))
            spans.append(match.span())

    for match in re.finditer(r"\bpasado\s+manana\b", text):
        found.append((match.start(), today + timedelta(days=2)))
    for match in re.finditer(r"\bmanana\b", text):
        before = text[max(0, match.start() - 8) : match.start()]
        # "a la manana", "de manana", "esta manana" are mornings, not tomorrow.
        if re.search(r"(?:\bla|\bde|\besta|\bpasado)\s+$", before):
            continue
        found.append((match.start(), today + timedelta(days=1)))
    for match in re.finditer(rf"\b({_WEEKDAY_ALT})s?(?:\s+(\d{{1,2}})\b(?!\s*(?:/|de\s+(?:{_MONTH_ALT}))))?", text):
        weekday, day = _WEEKDAYS[match.group(1)], match.group(2)
        if day and any(start <= match.start(2) < end for start, end in spans):
            day = None  # "el lunes 30/11": the date itself was read already
        if day:  # "el lunes 30": the next 30th, the one that is a Monday if either is
            candidates = [d for d in _days_numbered(today=today, day=int(day)) if d >= today]
            matching = [d for d in candidates if d.weekday() == weekday]
            if candidates:
                found.append((match.start(), (matching or candidates)[0]))
                spans.append(match.span(2))
                continue
        delta = (weekday - today.weekday()) % 7 or 7
        found.append((match.start(), today + timedelta(days=delta)))
    for match in re.finditer(r"\bfin(?:es)?\s+de(?:l)?\s+mes\b", text):
        found.append((match.start(), today.replace(day=calendar.monthrange(today.year, today.month)[1])))
    for match in re.finditer(r"\b(?:principios?|comienzos?|inicios?)\s+de(?:l)?\s+(?:mes|proximo\s+mes)\b", text):
        found.append((match.start(), (today.replace(day=1) + timedelta(days=32)).replace(day=1)))
    for match in re.finditer(r"\b(?:en|dentro\s+de)\s+(\d{1,2}|dos|tres|cuatro|cinco|seis|siete|diez)\s+dias\b", text):
        raw = match.group(1)
        days = int(raw) if raw.isdigit() else _NUMBER_WORDS[raw]
        found.append((match.start(), today + timedelta(days=days)))
    return found, spans


def _days_numbered(*, today: date, day: int) -> list[date]:
    """This month's and next month's day `day`, where they exist."""
    month_start = today.replace(day=1)
    next_month = (month_start + timedelta(days=32)).replace(day=1)
    return [
        base.replace(day=day)
        for base in (month_start, next_month)
        if 1 <= day <= calendar.monthrange(base.year, base.month)[1]
    ]


def _promised_date_resolve(*, found: list[tuple[int, date]], text: str, today: date) -> str | None:
    if found:
        return min(found)[1].isoformat()
    # "hoy" is the weakest: "hoy no puedo, el viernes te pago" promises Friday.
    if re.search(r"\bhoy\b", text):
        return today.isoformat()
    return None


def _family_find(*, text: str, use: str | None) -> str | None:
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


def _use_find(*, text: str) -> str | None:
    match = _USE_RE.search(text)
    return match.lastgroup if match else None


def _zone_find(*, text: str) -> tuple[str | None, str]:
    matches = list(_PLACE_RE.finditer(text))
    if not matches:
        return None, text
    chosen = matches[-1]
    for match in matches:
        if _DESTINATION_BEFORE_RE.search(text[max(0, match.start() - 30) : match.start()]):
            chosen = match
    masked = text
    for match in matches:
        masked = _text_mask(text=masked, start=match.start(), end=match.end())
    return _PLACE_ZONE[chosen.group(1)], masked


def _color_find(*, text: str) -> str | None:
    match = next(
        (m for m in _COLOR_RE.finditer(text) if not _COLOR_NOT_RE.search(text, 0, m.start())),
        None,
    )
    if not match:
        return None
    word = match.group(1)
    return next(name for prefix, name in _COLOR_NAMES.items() if word.startswith(prefix))


def _slopes_find(*, text: str) -> tuple[int | None, str]:
    match = _SLOPES_RE.search(text)
    if not match:
        return None, text
    slopes = 2 if match.group(1) in {"dos", "2"} else 1
    return slopes, _text_mask(text=text, start=match.start(), end=match.end())


def _shipping_find(*, text: str) -> bool | None:
    last = None
    for match in _SHIPPING_RE.finditer(text):
        last = match.lastgroup == "true"
    return last


def _amount_value(*, raw: str, multiplier: str | None) -> float:
    if re.fullmatch(r"\d{1,3}(?:[.,]\d{3})+", raw):
        value = float(re.sub(r"[.,]", "", raw))
    else:
        value = _number_parse(raw=raw)
    return value * 1000 if multiplier else value


def _measures_extract(*, text: str, wall: bool) -> tuple[dict[str, Any], str]:
    """Thickness, dimensions, area and panel count from a normalised, masked text."""
    found: dict[str, Any] = {}

    def take(key: str, value: int | float) -> None:
        if key not in found and value > 0:
            found[key] = value

    for match in _AREA_RE.finditer(text):
        take("area_m2", _number_clean(value=_number_parse(raw=match.group(1))))
        text = _text_mask(text=text, start=match.start(), end=match.end())

    # Three measures (a room) do not map onto length and width; keep them out of the other rules.
    for match in _TRIPLE_DIMS_RE.finditer(text):
        text = _text_mask(text=text, start=match.start(), end=match.end())

    for match in _DIMS_RE.finditer(text):
        first_raw, first_unit, first_label, second_raw, second_unit, second_label = match.groups()
        if (
            not first_unit
            and not first_label
            and _number_parse(raw=first_raw) in _KNOWN_THICKNESS
            and _number_parse(raw=first_raw) > MAX_PANEL_LENGTH_M
            and _FAMILY_BEFORE_RE.search(text, 0, match.start())
        ):
            found.setdefault("thickness_mm", int(_number_parse(raw=first_raw)))
            text = _text_mask(text=text, start=match.start(), end=match.start(4))  # the rest: a count, a length
            continue
        first_unit = first_unit or second_unit
        second_unit = second_unit or first_unit
        first = _meters_from(value=_number_parse(raw=first_raw), unit=first_unit)
        second = _meters_from(value=_number_parse(raw=second_raw), unit=second_unit)
        sides = [(first, first_label), (second, second_label)]
        if wall and not first_label and not second_label:
            # An unlabeled wall "12 x 3" is run by height: the longer side runs along the ground.
            take("run_m", _number_clean(value=max(first, second)))
            take("length_m", _number_clean(value=min(first, second)))
        elif not wall and not first_label and not second_label:
            take("length_m", _number_clean(value=first))
            take("width_m", _number_clean(value=second))
        else:
            for value, label in sides:
                key = _label_key(label=label, wall=wall)
                if key:
                    take(key, _number_clean(value=value))
            for value, label in sides:
                if not label:
                    for key in ("length_m", "run_m") if wall else ("length_m", "width_m"):
                        if key not in found:
                            take(key, _number_clean(value=value))
                            break
        text = _text_mask(text=text, start=match.start(), end=match.end())

    for pattern in (_THICKNESS_ESPESOR_RE, _THICKNESS_AFTER_FAMILY_RE, _THICKNESS_UNIT_RE):
        for match in pattern.finditer(text):
            first = next(i for i, group in enumerate(match.groups(), 1) if group is not None)
            groups = [g for g in match.groups() if g is not None]
            raw, unit = groups[0], (groups[1] if len(groups) > 1 else None)
            value = _number_parse(raw=raw)
            if unit and unit.startswith("c"):
                value = value * 10 if 1 <= value <= 30 else 0
            elif not unit and not 20 <= value <= 300:
                continue
            if value and value == int(value) and "thickness_mm" not in found:
                found["thickness_mm"] = int(value)
                # Only the number goes: the family name still anchors "10 isodec 100".
                text = _text_mask(text=text, start=match.start(first), end=match.end())

    count_matches = list(_COUNT_RE.finditer(text)) or list(_COUNT_BEFORE_FAMILY_RE.finditer(text))
    for match in count_matches:
        raw = match.group(1)
        count = int(raw) if raw.isdigit() else _NUMBER_WORDS[raw]
        if "panel_count" in found or count < 1:
            continue
        found["panel_count"] = count
        tail = _COUNT_TAIL_RE.match(text[match.end() :])
        text = _text_mask(text=text, start=match.start(), end=match.end())
        if tail:
            value = _number_parse(raw=tail.group(1))
            unit = tail.group(2)
            # "10 paneles de 2,80": a bare number after the panels is their length, unless it is a thickness.
            if unit or value <= 20:
                take("length_m", _number_clean(value=_meters_from(value=value, unit=unit)))
                start = match.end() + tail.start(1)
                text = _text_mask(text=text, start=start, end=match.end() + tail.end())
            elif int(value) in _KNOWN_THICKNESS and "thickness_mm" not in found:
                found["thickness_mm"] = int(value)

    for match in _LABELED_RE.finditer(text):
        groups = match.groups()
        if groups[0] is not None:
            raw, unit, label = groups[0], groups[1], groups[2]
        elif groups[3] is not None:
            label, raw, unit = groups[3], groups[4], groups[5]
        else:
            raw, unit, label = groups[6], None, "lineales"
        key = _label_key(label=label, wall=wall)
        if key:
            take(key, _number_clean(value=_meters_from(value=_number_parse(raw=raw), unit=unit)))
            text = _text_mask(text=text, start=match.start(), end=match.end())

    for match in _METERS_RE.finditer(text):
        value = _number_clean(value=_number_parse(raw=match.group(1)))
        take("run_m" if match.group(3) else "length_m", value)
        text = _text_mask(text=text, start=match.start(), end=match.end())

    for match in _CM_RE.finditer(text):
        value = _number_parse(raw=match.group(1))
        if value > 30:
            take("length_m", _number_clean(value=value / 100))
            text = _text_mask(text=text, start=match.start(), end=match.end())

    return found, text


def _label_key(*, label: str | None, wall: bool) -> str | None:
    if label in {"alto", "altura"}:
        return "length_m"
    if label in {"lineales", "lineal"}:
        return "run_m"
    if label == "largo":
        return "run_m" if wall else "length_m"
    if label == "ancho":
        return "run_m" if wall else "width_m"
    if label == "caida":  # a roof's fall is the panels' length
        return "length_m"
    if label == "frente":  # the side across the panels
        return "run_m" if wall else "width_m"
    return None


def _entities_extract(*, original: str, text: str, intent: str, today: date) -> dict[str, Any]:
    entities: dict[str, Any] = {}

    email = _email_extract(text=original)
    name = _name_extract(text=original)
    if name:
        plain_name = _text_normalize(text=name)
        position = text.find(plain_name)
        if position >= 0:
            text = _text_mask(text=text, start=position, end=position + len(plain_name))

    for match in _ORDER_REF_RE.finditer(text):
        ref = next(g for g in match.groups() if g)
        entities.setdefault("order_ref", ref.upper())
        # "mi pedido para retirar? es el 5127": only the number goes, the words between still count
        start, end = match.span(4) if match.group(4) else match.span()
        text = _text_mask(text=text, start=start, end=end)

    found_dates, date_spans = _dates_find(text=text, today=today)
    if intent == "promise_to_pay":
        promised = _promised_date_resolve(found=found_dates, text=text, today=today)
        if promised:
            entities["promised_date"] = promised
    for start, end in date_spans:
        text = _text_mask(text=text, start=start, end=end)

    for pattern in (_PERCENT_RE, _TIME_RE, _TEMPERATURE_RE, _PHONE_RE):
        for match in pattern.finditer(text):
            text = _text_mask(text=text, start=match.start(), end=match.end())

    # Places go first: "piedras blancas" is a barrio, not a colour; "paso de los toros" is no decline.
    zone, text = _zone_find(text=text)
    use = _use_find(text=text)
    family = _family_find(text=text, use=use)
    slopes, text = _slopes_find(text=text)
    shipping = _shipping_find(text=text)
    color = _color_find(text=text)

    amount = None
    for match in _AMOUNT_CURRENCY_RE.finditer(text):
        raw, multiplier = (match.group(1), match.group(2)) if match.group(1) else (match.group(3), match.group(4))
        amount = _amount_value(raw=raw, multiplier=multiplier)
        text = _text_mask(text=text, start=match.start(), end=match.end())
        break
    # Bare "los 2300" is money only when the message is about paying.
    if amount is None and intent in {"payment_notice", "promise_to_pay", "complaint"}:
        for match in _AMOUNT_CONTEXT_RE.finditer(text):
            value = _amount_value(raw=match.group(1), multiplier=match.group(2))
            if value >= 10:
                amount = value
                text = _text_mask(text=text, start=match.start(1), end=match.end())
                break

    wall = use == "wall" or (use is None and family in {"ISOPANEL_EPS", "ISOWALL_PIR"})
    measures, text = _measures_extract(text=text, wall=wall)
    if family and "thickness_mm" not in measures:
        bare = _THICKNESS_BARE_RE.search(text)
        if bare and int(bare.group(1)) in _KNOWN_THICKNESS:
            measures["thickness_mm"] = int(bare.group(1))

    values: dict[str, Any] = {
        "family": family,
        "use": use,
        "slopes": slopes,
        "color": color,
        "zone": zone,
        "shipping": shipping,
        "amount": _number_clean(value=amount) if amount else None,
        "email": email,
        "name": name,
        **measures,
    }
    for key, value in values.items():
        if value is not None:
            entities[key] = value
    return {key: entities[key] for key in NLU_ENTITY_KEYS if key in entities}


# --------------------------------------------------------------------------------------------
# Intent
# --------------------------------------------------------------------------------------------


def _intent_scores(*, text: str) -> dict[str, int]:
    scores = dict.fromkeys(NLU_INTENTS, 0)
    condition = 0
    for intent, weight, pattern in _RULES:
        if pattern.search(text):
            if intent == CONDITION:
                condition += weight
            else:
                scores[intent] += weight
    scores["complaint"] += condition
    scores[CONDITION] = condition  # not an intent: _intent_decide may take it back
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


def _intent_decide(*, scores: dict[str, int], text: str, entities: dict[str, Any]) -> tuple[str, float]:
    scores = dict(scores)
    has_product = any(key in entities for key in _PRODUCT_KEYS)
    if has_product and _NEED_RE.search(text):
        # "necesito isodec 100 para 6x4" asks for a price even without the word "precio".
        scores["quote_request"] += 3 if any(key in entities for key in _MEASURE_KEYS) else 2
        if not _BOUGHT_RE.search(text):
            # "se me llueve el techo, necesito isodec 100 6x4": what to fix, not a complaint
            scores["complaint"] -= scores.get(CONDITION, 0)
    ranked = sorted(NLU_INTENTS, key=lambda intent: (-scores[intent], _PRIORITY.index(intent)))
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


def nlu_parse(*, text: str, sent_at: datetime | str | None = None) -> dict[str, Any]:
    """Intent, confidence and entities of one customer message.

    sent_at is the message's own timestamp (aware datetime, ISO string, or None for now); relative
    dates ("manana", "el viernes") resolve against its day in America/Montevideo. Entity keys that
    were not said are absent, never None. Raises TypeError/ValueError for a non-string text or an
    unparseable sent_at.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a string, got {type(text).__name__}.")
    today = _local_date(sent_at=sent_at)
    normalized = _text_normalize(text=text)
    scores = _intent_scores(text=normalized)
    # Entities depend on the provisional intent only for money and dates; the product rules don't.
    provisional = max(NLU_INTENTS, key=lambda intent: (scores[intent], -_PRIORITY.index(intent)))
    entities = _entities_extract(original=text, text=normalized, intent=provisional, today=today)
    intent, confidence = _intent_decide(scores=scores, text=normalized, entities=entities)
    if intent != provisional:
        entities = _entities_extract(original=text, text=normalized, intent=intent, today=today)
    return {"intent": intent, "confidence": confidence, "entities": entities}
