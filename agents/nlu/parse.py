"""nlu_parse: one message in, its intent, confidence and entities out."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from agents.nlu.classifier import intent_classify
from agents.nlu.corrections import corrections_apply, said_after_correction
from agents.nlu.dates import dates_find, local_date, promised_date_resolve
from agents.nlu.extras import extras_find
from agents.nlu.measures import measures_read
from agents.nlu.money import amount_find
from agents.nlu.names import email_extract, name_extract
from agents.nlu.places import zone_find
from agents.nlu.product import color_find, family_find, shipping_find, slopes_find, use_find
from agents.nlu.text import number_clean, numbers_as_digits, text_mask, text_normalize
from agents.nlu.vocabulary import NLU_ENTITY_KEYS

_ORDER_REF_RE = re.compile(
    r"\b(?:pedido|orden|cotizacion|presupuesto|propuesta|factura|compra|remito|ticket)\s*(?:de\s+compra\s*)?"
    r"[?.,:]?\s*(?:enviada\s*|que\s+me\s+mandaron\s*)?\(?\s*(?:nro\s*)?(?:es\s+)?(?:esa\s+|ese\s+)?(?:el\s+|la\s+)?[:#]?\s*#?\s*"
    r"([a-z]{0,3}-?\d{3,})\b"
    r"(?!\s*(?:dolares|dolar|usd|pesos|\$|u\$s|mil\b))"
    r"|\b(?:nro|numero)\s+de\s+(?:pedido|orden|cotizacion|presupuesto|factura|compra)\s*(?:es\s+)?[:#]?\s*"
    r"([a-z]{0,3}-?\d{3,})\b"
    r"|(?<![\w&])#\s*(\d{3,})\b"
    # "ya esta mi pedido? es el 5127"
    r"|\b(?:pedido|orden|compra|encargo)\b[^.!?\d]{0,40}[.!?]*\s*,?\s*(?:es\s+)?\b(?:el|la)\s+(?:nro\s+)?(\d{3,6})\b"
    # "la semana pasada (n° 3920)": a number given as one
    r"|\(\s*nro\s*(\d{3,})\s*\)"
)
# freight asked for, not asked about ("cuanto me sale el flete a rivera?")
_FREIGHT_WORD_RE = re.compile(r"(?<!\bel )(?<!\bdel )(?<!\bde )(?<!\bun )\b(?:flete|envio)\b")
_PERCENT_RE = re.compile(r"\d+(?:[.,]\d+)?\s*(?:%|por\s*ciento)")
_TIME_RE = re.compile(r"\b\d{1,2}(?::\d{2})\s*(?:hs|hrs|h|am|pm)?\b|\b\d{1,2}\s*(?:hs|hrs|horas|am|pm)\b")
# "-18", "- 18 grados", "25°": not "- 2 esquinas" in a list of bullets
_TEMPERATURE_RE = re.compile(
    r"(?<![\w.,])-\d+(?:[.,]\d+)?(?:\s*(?:°|o\b|grados))?|(?<![\w.,])-\s\d+(?:[.,]\d+)?\s*(?:°|o\b|grados)"
    r"|\b\d+\s*(?:°|grados)"
)
_PHONE_RE = re.compile(r"(?<![\w.,])(?:\+?598\s?)?0?9\d[\s-]?\d{3}[\s-]?\d{3}(?![\w.,])|(?<![\w.,])\d{8,}(?![\w.,])")


def _name_mask(*, name: str | None, text: str) -> str:
    if name:
        plain_name = text_normalize(text=name)
        position = text.find(plain_name)
        if position >= 0:
            return text_mask(text=text, start=position, end=position + len(plain_name))
    return text


def _order_ref_find(*, text: str) -> tuple[str | None, str]:
    order_ref = None
    for match in _ORDER_REF_RE.finditer(text):
        order_ref = order_ref or next(g for g in match.groups() if g).upper()
        # "mi pedido para retirar? es el 5127": only the number goes, the words between still count
        start, end = match.span(4) if match.group(4) else match.span()
        text = text_mask(text=text, start=start, end=end)
    return order_ref, text


def _dates_take(*, text: str, intent: str, today: date) -> tuple[str | None, str]:
    """The promised date when the message promises to pay, and the text without any date."""
    found_dates, date_spans = dates_find(text=text, today=today)
    promised = promised_date_resolve(found=found_dates, text=text, today=today) if intent == "promise_to_pay" else None
    for start, end in date_spans:
        text = text_mask(text=text, start=start, end=end)
    return promised, text


def _noise_mask(*, text: str) -> str:
    """Percentages, times, temperatures and phone numbers: numbers that are no measure or amount."""
    for pattern in (_PERCENT_RE, _TIME_RE, _TEMPERATURE_RE, _PHONE_RE):
        for match in pattern.finditer(text):
            text = text_mask(text=text, start=match.start(), end=match.end())
    return text


def entities_extract(*, original: str, text: str, intent: str, today: date) -> dict[str, Any]:
    """The entities of a message: `original` as written, `text` normalised with its numbers in
    digits (numbers_as_digits); `intent` decides
    whether dates are a promise and bare numbers money. Keys not said are absent."""
    name = name_extract(text=original)
    text = _name_mask(name=name, text=text)
    order_ref, text = _order_ref_find(text=text)
    promised_date, text = _dates_take(text=text, intent=intent, today=today)
    text = _noise_mask(text=text)
    # Places go first: "piedras blancas" is a barrio, not a colour; "paso de los toros" is no decline.
    after = said_after_correction(text=text)
    zone, text = zone_find(text=text)
    if after:  # "flete a carrasco... bueno, paso carrasco": the place said after the correction
        zone = zone_find(text=after)[0] or zone
    use = use_find(text=text)
    family = family_find(text=text, use=use)
    slopes, text = slopes_find(text=text)
    shipping = shipping_find(text=text)
    if shipping is None and zone and _FREIGHT_WORD_RE.search(text):
        shipping = True  # "flete pde", "isodec 100 / 6x4 / flete a melo": a place and the freight
    color = color_find(text=text)
    extras = extras_find(text=text)
    amount, text = amount_find(text=text, intent=intent)
    values: dict[str, Any] = {
        "order_ref": order_ref,
        "promised_date": promised_date,
        "family": family,
        "use": use,
        "slopes": slopes,
        "color": color,
        "zone": zone,
        "shipping": shipping,
        "amount": number_clean(value=amount) if amount else None,
        "email": email_extract(text=original),
        "name": name,
        **measures_read(text=text, use=use, family=family),
        **extras,
    }
    return {key: values[key] for key in NLU_ENTITY_KEYS if values.get(key) is not None}


def nlu_parse(*, text: str, sent_at: datetime | str | None = None) -> dict[str, Any]:
    """Intent, confidence and entities of one customer message.

    sent_at is the message's own timestamp (aware datetime, ISO string, or None for now); relative
    dates ("manana", "el viernes") resolve against its day in America/Montevideo. Entity keys that
    were not said are absent, never None. Raises TypeError/ValueError for a non-string text or an
    unparseable sent_at.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a string, got {type(text).__name__}.")
    today = local_date(sent_at=sent_at)
    intent, confidence = intent_classify(text=text_normalize(text=text))
    digits = corrections_apply(text=numbers_as_digits(text=text))
    entities = entities_extract(original=text, text=digits, intent=intent, today=today)
    return {"intent": intent, "confidence": confidence, "entities": entities}
