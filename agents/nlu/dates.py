"""Dates: "el viernes", "el 20", "30/11", "fin de mes", resolved against the day the message was
sent in Montevideo."""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from agents.nlu.text import NUMBER_WORDS

MONTEVIDEO_TZ = ZoneInfo("America/Montevideo")

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
MONTH_ALT = "|".join(sorted(_MONTHS, key=len, reverse=True))
_WEEKDAYS = {
    "lunes": 0,
    "martes": 1,
    "miercoles": 2,
    "jueves": 3,
    "viernes": 4,
    "sabado": 5,
    "domingo": 6,
}
WEEKDAY_ALT = "lunes|martes|miercoles|jueves|viernes|sabado|domingo"

_SLASH_DATE_RE = re.compile(r"(?<![\w.,/])(\d{1,2})\s*/\s*(\d{1,2})(?:\s*/\s*(\d{2,4}))?(?![\w/])")
_MONTH_DATE_RE = re.compile(rf"\b(?:el\s+)?(?:dia\s+)?(\d{{1,2}})\s+de\s+({MONTH_ALT})\b(?:\s+(?:de|del)\s+(\d{{4}}))?")
_WEEKDAY_DAY_RE = re.compile(rf"\b({WEEKDAY_ALT})s?(?:\s+(\d{{1,2}})\b(?!\s*(?:/|de\s+(?:{MONTH_ALT}))))?")
_DAY_DATE_RE = re.compile(
    r"\b(?:el|para\s+el|antes\s+del|hasta\s+el)\s+(?:dia\s+)?(\d{1,2})\b"
    r"(?!\s*(?:[.,]\d|%|x\b|m\b|mts?\b|metros?\b|cm\b|mm\b|paneles|p\b|dolares|pesos|hs\b|horas|de\s+(?:alto|largo|ancho)))"
)


def local_date(*, sent_at: datetime | str | None) -> date:
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


Found = list[tuple[int, date]]  # each date said, with where it starts in the text
Spans = list[tuple[int, int]]  # the stretches of text a date used


def dates_find(*, text: str, today: date) -> tuple[Found, Spans]:
    """Every date expression with its position, and the spans it used (to keep them out of numbers)."""
    found: Found = []
    spans: Spans = []
    for finder in (_slash_dates, _month_dates, _day_dates, _weekdays, _relative_dates):
        finder(text=text, today=today, found=found, spans=spans)
    return found, spans


def _slash_dates(*, text: str, today: date, found: Found, spans: Spans) -> None:
    for match in _SLASH_DATE_RE.finditer(text):
        day, month = int(match.group(1)), int(match.group(2))
        year = int(match.group(3)) if match.group(3) else None
        resolved = _date_on_or_after(today=today, year=year, month=month, day=day) if 1 <= month <= 12 else None
        if resolved:
            found.append((match.start(), resolved))
            spans.append(match.span())


def _month_dates(*, text: str, today: date, found: Found, spans: Spans) -> None:
    for match in _MONTH_DATE_RE.finditer(text):
        year = int(match.group(3)) if match.group(3) else None
        resolved = _date_on_or_after(today=today, year=year, month=_MONTHS[match.group(2)], day=int(match.group(1)))
        if resolved:
            found.append((match.start(), resolved))
            spans.append(match.span())


def _day_dates(*, text: str, today: date, found: Found, spans: Spans) -> None:
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


def _weekdays(*, text: str, today: date, found: Found, spans: Spans) -> None:
    for match in _WEEKDAY_DAY_RE.finditer(text):
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


def _relative_dates(*, text: str, today: date, found: Found, spans: Spans) -> None:
    """Tomorrow, the day after, the end or start of the month, in N days."""
    for match in re.finditer(r"\bpasado\s+manana\b", text):
        found.append((match.start(), today + timedelta(days=2)))
    for match in re.finditer(r"\bmanana\b", text):
        before = text[max(0, match.start() - 8) : match.start()]
        # "a la manana", "de manana", "esta manana" are mornings, not tomorrow.
        if not re.search(r"(?:\bla|\bde|\besta|\bpasado)\s+$", before):
            found.append((match.start(), today + timedelta(days=1)))
    for match in re.finditer(r"\bfin(?:es)?\s+de(?:l)?\s+mes\b", text):
        found.append((match.start(), today.replace(day=calendar.monthrange(today.year, today.month)[1])))
    for match in re.finditer(r"\b(?:principios?|comienzos?|inicios?)\s+de(?:l)?\s+(?:mes|proximo\s+mes)\b", text):
        found.append((match.start(), (today.replace(day=1) + timedelta(days=32)).replace(day=1)))
    for match in re.finditer(r"\b(?:en|dentro\s+de)\s+(\d{1,2}|dos|tres|cuatro|cinco|seis|siete|diez)\s+dias\b", text):
        raw = match.group(1)
        days = int(raw) if raw.isdigit() else NUMBER_WORDS[raw]
        found.append((match.start(), today + timedelta(days=days)))


def _days_numbered(*, today: date, day: int) -> list[date]:
    """This month's and next month's day `day`, where they exist."""
    month_start = today.replace(day=1)
    next_month = (month_start + timedelta(days=32)).replace(day=1)
    return [
        base.replace(day=day)
        for base in (month_start, next_month)
        if 1 <= day <= calendar.monthrange(base.year, base.month)[1]
    ]


def promised_date_resolve(*, found: list[tuple[int, date]], text: str, today: date) -> str | None:
    if found:
        return min(found)[1].isoformat()
    # "hoy" is the weakest: "hoy no puedo, el viernes te pago" promises Friday.
    if re.search(r"\bhoy\b", text):
        return today.isoformat()
    return None
