"""Normalisation of a customer's message (lowercase, no accents, WhatsApp shorthand spelled out,
measures said in words as digits) and the number fragments every extractor shares."""

from __future__ import annotations

import re
import unicodedata

from text_to_num import alpha2digit

EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
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
        (r"\bd\s+(?=[a-z0-9])", "de "),
        (r"\bpa\s+(?=(?:un|una|el|la|mi|techo|pared|camara|galpon|tinglado|tinglao)\b)", "para "),
        (r"\bc\s+(?=[a-z]{3,})", "con "),
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


def text_normalize(*, text: str) -> str:
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
    normalized = EMAIL_RE.sub(" ", normalized)
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
    return _WORD_BEFORE_UNIT_RE.sub(lambda m: str(NUMBER_WORDS[m.group(1)]), text)


def _number_word_value(raw: str) -> str:
    return raw if raw[0].isdigit() else str(NUMBER_WORDS[raw])


def text_mask(*, text: str, start: int, end: int) -> str:
    # Spaces keep every other position valid for the spans still to be read.
    return text[:start] + " " * (end - start) + text[end:]


def number_parse(*, raw: str) -> float:
    return float(raw.replace(",", "."))


def number_clean(*, value: float) -> int | float:
    value = round(value, 3)
    return int(value) if value == int(value) else value


NUM = r"(?<![\w.,])(\d+(?:[.,]\d+)?)"
# After a dimension separator the number may touch it: the "4" of "6x4".
NUM_AFTER = r"(\d+(?:[.,]\d+)?)(?![\d])"
# a unit may touch the "x" of the next measure: "6mx4m", "6mtsx4mts"
LEN_UNIT = r"(cm|centimetros?|metros?|mtrs?|mts?|m)(?![a-wyz0-9]|x(?!\d))\.?"
NUMBER_WORDS = (
    {"un": 1, "una": 1, "uno": 1}
    | dict(
        zip(
            "dos tres cuatro cinco seis siete ocho nueve diez once doce trece catorce quince dieciseis diecisiete "
            "dieciocho diecinueve veinte".split(),
            range(2, 21),
            strict=True,
        )
    )
    | {
        "treinta": 30,
        "cuarenta": 40,
        "cincuenta": 50,
        "sesenta": 60,
        "setenta": 70,
        "ochenta": 80,
        "noventa": 90,
        "cien": 100,
    }
)


# Words for measures: "seis por cuatro", "cuatro y medio", "de tres metros"; "un"/"una" are not
# measures ("una agua", "un techo").
_MEASURE_WORD = "|".join(sorted((w for w, n in NUMBER_WORDS.items() if n > 1), key=len, reverse=True))
_MEASURE_TOKEN = rf"(\d+(?:,\d+)?|{_MEASURE_WORD})"
_HALF_RE = re.compile(rf"(?<![\w.,])(\d+|{_MEASURE_WORD})\s+y\s+medio\b")
_WORD_BY_WORD_RE = re.compile(
    rf"(?<![\w.,])(?=\S*[a-z]|\S+\s+por\s+[a-z])"  # at least one of the two in words
    rf"{_MEASURE_TOKEN}\s+(?:por|x)\s+{_MEASURE_TOKEN}(?![\w.,])"
)
_WORD_BEFORE_UNIT_RE = re.compile(
    rf"\b({_MEASURE_WORD})(?=\s*(?:metros?|mts?|mtrs?|m|cm|centimetros?|milimetros|mm)\b)"
)


def meters_from(*, value: float, unit: str | None) -> float:
    return value / 100 if unit and unit.startswith(("cm", "centim")) else value


# text2num reads Spanish number words with their accents; customers often leave them out.
_ACCENTED = {"veintidos": "veintidós", "veintitres": "veintitrés", "veintiseis": "veintiséis", "dieciseis": "dieciséis"}
_ACCENT_RE = re.compile(rf"\b({'|'.join(_ACCENTED)})\b")
# Number words as people spell them by ear (seseo): "sinco", "dies", "dose", "dosientos".
_PHONETIC = {
    "sinco": "cinco", "dies": "diez", "onse": "once", "dose": "doce", "trese": "trece", "catorse": "catorce",
    "kinse": "quince", "quinse": "quince", "sien": "cien", "siento": "ciento", "sincuenta": "cincuenta",
    "beinte": "veinte", "dosientos": "doscientos", "tresientos": "trescientos", "cuatrosientos": "cuatrocientos",
    "seisientos": "seiscientos", "ochosientos": "ochocientos", "novesientos": "novecientos",
}  # fmt: skip
_PHONETIC_RE = re.compile(rf"\b({'|'.join(_PHONETIC)})\b")
_STEPS_RE = re.compile(r"\b(?:\d+|[a-z]+)\s+pasos\b")
# After text2num, the ways people say a measure in words: "4 metros 20", "3 con 50", "2 metros y
# medio", "de alto 2 60"; an order number said digit by digit ("4 5 8 2"). A number corrected as
# it is said is corrections.py's.
_METERS_AND_CM_RE = re.compile(r"(?<![\d,])(\d{1,2})\s+(metros?|mts?)\s+(\d{2})\b(?!\s*(?:metros?|mts?|m\b|cm))")
_WITH_DECIMALS_RE = re.compile(r"(?<![\d,])(\d{1,2})\s+con\s+(\d{2})\b(?![.,]\d)")
_METERS_AND_HALF_RE = re.compile(r"(?<![\d,])(\d{1,2})\s+(metros?|mts?)\s+y\s+medio\b")
_LABEL_DIGIT_PAIR_RE = re.compile(
    r"\b((?:alto|altura|largo|ancho)(?:\s+(?:es|son|de))?|de|por|x)\s+(\d)\s+(\d{2})\b(?!\s*(?:x|por)\b)"
)
# "... y dos ochenta de alto": after "y" only when a measure's word follows
_AND_DIGIT_PAIR_RE = re.compile(r"\b(y)\s+(\d)\s+(\d{2})\b(?=\s*(?:de\s+)?(?:alto|altura|largo|ancho|m\b|metros|mts))")
# "3500 mm" of a panel's length: metres (a thickness is never over 300 mm)
_MM_LENGTH_RE = re.compile(r"(?<![\d.,])(\d{3,5})\s*(?:mm|milimetros)\b")
# small numbers in words before a measure's label or after "por": "por dos de ancho"
_SMALL_WORD_MEASURE_RE = re.compile(
    r"\b(dos|tres|cuatro|cinco|seis|siete|ocho|nueve)\b(?=\s+de\s+(?:ancho|largo|alto|altura)\b)"
    r"|(?<=\bpor\s)(dos|tres)\b(?!\s+(?:aguas?|paneles|esquinas))"
)
_TREINTA_Y_TRES_RE = re.compile(
    r"\btreinta\s+y\s+tres\b(?!\s*(?:m\b|metros|mts|mt|mtrs|m2|cm|mm|paneles|x\b|por\b|dolares|usd|pesos|esquinas|kits?))"
)
_FILLER_RE = re.compile(r"\b(?:eh+|ehm+|mmm+)\b[,.]?")  # not "mm": millimetres
_APPROXIMATELY_RE = re.compile(r"\bun[oa]s\b(?=\s+(?:;\s+)?(?:[a-z]+|\d+(?:[.,]\d+)?)\s+(?:metros|mts|m2|paneles))")
_UNITS_AND_TENS_RE = re.compile(
    r"\b(dos|tres|cuatro|cinco|seis|siete|ocho|nueve)\s+(diez|veinte|treinta|cuarenta|cincuenta|sesenta|setenta|ochenta"
    r"|noventa)\b(?!\s+y\b)(?=\s*(?:;\s*)?(?:x|por|de\s+(?:alto|altura|largo|ancho)|metros|m\b|mts|y\b|[,.]|$))"
)
_THOUSANDS_RE = re.compile(r"(?<![\d.,])(\d{1,3})\s+mil\b")
_ZERO_RE = re.compile(r"(?<=\d )cero\b|\bcero(?= \d)")
_DIGIT_BY_DIGIT_RE = re.compile(r"(?<![\d,.])\d(?:\s\d){2,}(?![\d,.])")


def _mm_as_meters(value: int) -> str:
    if value <= 300:
        return f"{value} mm"  # a thickness
    return f"{value / 1000:g}".replace(".", ",") + " m"


def numbers_as_digits(*, text: str) -> str:
    """A message as the entity readers take it: normalised, its numbers in digits ("ciento
    cincuenta" is 150, "cuatro metros veinte" is "4,20 metros")."""
    lowered = _PHONETIC_RE.sub(lambda m: _PHONETIC[m.group(1)], text.lower())
    lowered = _ACCENT_RE.sub(lambda m: _ACCENTED[m.group(1)], lowered)
    lowered = _STEPS_RE.sub(" ", lowered)  # "8 pasos de largo, unos 7 metros": steps measure nothing
    # voice notes: "eh", "ehh", "mmm" carry nothing and split a measure from its label
    # (a ";" keeps "ciento cincuenta eh cuatro metros" two numbers; it goes once they are digits)
    lowered = _FILLER_RE.sub(" ; ", lowered)
    lowered = _APPROXIMATELY_RE.sub("aprox", lowered)  # "unos cuarenta" is about 40, not "1 40"
    # "dos ochenta", "tres cincuenta": metres and centimetres said as two numbers
    lowered = _UNITS_AND_TENS_RE.sub(
        lambda m: f"{NUMBER_WORDS[m.group(1)]},{NUMBER_WORDS[m.group(2)]}",
        lowered,
    )
    # "180 mil pesos": digits and a word for thousands
    lowered = _THOUSANDS_RE.sub(lambda m: str(int(m.group(1)) * 1000), lowered)
    # Treinta y Tres is a department, not 33, unless a unit follows.
    lowered = _TREINTA_Y_TRES_RE.sub("treintaytres", lowered)
    # Ordinals stay words: "un cuarto frio" is a cold room, not "un 4º frio".
    digits = re.sub(r"\b4([ºª])", lambda m: "cuarto" if m.group(1) == "º" else "cuarta", alpha2digit(lowered, "es"))
    text = text_normalize(text=digits.replace(" ; ", " "))
    text = _METERS_AND_HALF_RE.sub(r"\1,5 \2", text)
    text = _METERS_AND_CM_RE.sub(r"\1,\3 \2", text)
    text = _WITH_DECIMALS_RE.sub(r"\1,\2", text)
    text = _LABEL_DIGIT_PAIR_RE.sub(r"\1 \2,\3", text)
    text = _AND_DIGIT_PAIR_RE.sub(r"\1 \2,\3", text)
    text = _SMALL_WORD_MEASURE_RE.sub(lambda m: str(NUMBER_WORDS[m.group(1) or m.group(2)]), text)
    text = _MM_LENGTH_RE.sub(lambda m: _mm_as_meters(int(m.group(1))), text)
    text = text.replace("treintaytres", "treinta y tres")
    text = _ZERO_RE.sub("0", text)  # "siete siete cero dos": 7 7 0 2
    return _DIGIT_BY_DIGIT_RE.sub(lambda m: m.group(0).replace(" ", ""), text)
