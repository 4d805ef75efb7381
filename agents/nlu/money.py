"""Money: an amount with its currency ("USD 1.500", "2300 pesos"), or bare when the message is
about paying ("te transferi los 2300")."""

from __future__ import annotations

import re

from agents.nlu.dates import MONTH_ALT
from agents.nlu.text import number_parse, text_mask

# "3.450,80": thousands with dots and cents after a comma, as written in Uruguay; "1.500"; "2300,50"
_AMOUNT_NUM = (
    r"(\d{1,3}(?:\.\d{3})+,\d{1,2}(?![\d])|\d{1,3}(?:[.,]\d{3})+(?![\d])|\d+(?:[.,]\d{1,2})?)(?:\s*(mil|k)\b)?"
)
_CURRENCY = r"(?:dolares|dolar|dlls|usd|us\$|u\$s|u\$d|u\$|pesos|uyu|\$u|\$)"
_AMOUNT_CURRENCY_RE = re.compile(rf"{_CURRENCY}\s*{_AMOUNT_NUM}|(?<![\w.,]){_AMOUNT_NUM}\s*{_CURRENCY}(?![a-z])")
_AMOUNT_CONTEXT_RE = re.compile(
    r"\b(?:los|unos|saldo\s+de|total\s+de|suma\s+de|sena\s+de|adelanto\s+de|anticipo\s+de|transferi|transfiero"
    r"|deposite|deposito|pague|pago|abone|abono"
    r"|gire|giro|debo|debia|adeudo)\s+(?:los\s+)?"
    + _AMOUNT_NUM
    + r"(?!\s*(?:[.,]\d|%|x\b|m\b|mts?\b|metros?\b|cm\b|mm\b|m2|paneles|panel\b|p\b|chapas|dias|de\s+(?:alto|largo|ancho)"
    r"|/|de\s+(?:" + MONTH_ALT + r")\b))"
)


def _amount_value(*, raw: str, multiplier: str | None) -> float:
    if re.fullmatch(r"\d{1,3}(?:\.\d{3})+,\d{1,2}", raw):
        value = float(raw.replace(".", "").replace(",", "."))
    elif re.fullmatch(r"\d{1,3}(?:[.,]\d{3})+", raw):
        value = float(re.sub(r"[.,]", "", raw))
    else:
        value = number_parse(raw=raw)
    return value * 1000 if multiplier else value


def amount_find(*, text: str, intent: str) -> tuple[float | None, str]:
    """The first amount of money in `text`, and the text with it masked."""
    for match in _AMOUNT_CURRENCY_RE.finditer(text):
        raw, multiplier = (match.group(1), match.group(2)) if match.group(1) else (match.group(3), match.group(4))
        return _amount_value(raw=raw, multiplier=multiplier), text_mask(text=text, start=match.start(), end=match.end())
    # Bare "los 2300" is money only when the message is about paying.
    if intent in {"payment_notice", "promise_to_pay", "complaint"}:
        for match in _AMOUNT_CONTEXT_RE.finditer(text):
            value = _amount_value(raw=match.group(1), multiplier=match.group(2))
            if value >= 10:
                return value, text_mask(text=text, start=match.start(1), end=match.end())
    return None, text
