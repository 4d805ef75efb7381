"""The fields of a document's text: RUT (with its check digit), number, dates, currency,
subtotal, IVA, total, lines, and the quotes and invoices it mentions. Each reader takes the text
as `formats.tidy` and `agents.text.plain` leave it and returns the fields it found."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from stdnum.uy import rut as uy_rut

from agents.documents.formats import tidy
from agents.text import plain
from bmc.documents.models import Document

Kind = Document.Kind
CENT = Decimal("0.01")

RUT_RE = re.compile(r"(?<!\d)(\d{2})[ .-]?(\d{3})[ .]?(\d{3})[ .-]?(\d{3})[ .-]?(\d)(?!\d)")
DATE_RE = re.compile(r"(?<!\d)(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})(?!\d)|(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)")
AMOUNT = r"(\d{1,3}(?:[.,]\d{3})+(?:[.,]\d{2})?(?![\d.,]\d)|\d+(?:[.,]\d{1,2})?(?![\d.,]\d))"
NUMBER_LABELS = {
    Kind.INVOICE: r"(?:e-?factura|factura|cfe|e-?ticket)[^\n]{0,30}?(?:serie\s*)?([A-Z]{1,2})\s*(?:n[°ºo.]*|nro\.?|numero)?\s*[-: ]?\s*(\d{3,9})",
    Kind.PURCHASE_ORDER: r"orden de compra\s*(?:n[°ºo.]*|nro\.?|numero)?\s*[:#]?\s*([A-Z0-9][A-Z0-9-/]{2,20})",
    Kind.PAYMENT_RECEIPT: r"(?:n(?:ume)?ro\.? de (?:operacion|transaccion)|referencia|n° de operacion)\s*[:#]?\s*([A-Z0-9-]{4,30})",
    Kind.DELIVERY_NOTE: r"remito\s*(?:n[°ºo.]*|nro\.?|numero)?\s*[:#]?\s*([A-Z0-9][A-Z0-9-]{2,20})",
}
LINE_RE = re.compile(
    rf"^(?P<description>[^\d\n][^\n]*?)\s+(?P<quantity>\d+(?:[.,]\d+)?)\s+(?P<unit_price>{AMOUNT})\s+(?P<amount>{AMOUNT})\s*$",
    re.M,
)


def money(value: str) -> Decimal | None:
    """'1.816,95', '1,816.95', '1816.95', '12.500' (pesos), '1816' -> Decimal."""
    value = value.strip()
    if re.fullmatch(r"\d{1,3}(?:\.\d{3})+", value):  # dots between thousands, no cents
        value = value.replace(".", "")
    elif re.search(r",\d{1,2}$", value):
        value = value.replace(".", "").replace(",", ".")
    else:
        value = value.replace(",", "")
    try:
        return Decimal(value).quantize(CENT)
    except InvalidOperation:
        return None


def _labelled_amount(body: str, labels: str) -> Decimal | None:
    match = re.search(rf"(?<![a-z-])(?:{labels})[^\n\d]{{0,30}}?{AMOUNT}", body)
    return money(match.group(1)) if match else None


def _dates(body: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for label, key in (
        (r"(?:fecha de )?vencimiento|vence", "due_date"),
        (r"fecha(?: de emision| de la operacion| de pago)?|emitid[oa]", "issue_date"),
    ):
        match = re.search(rf"(?:{label})\s*[:]?\s*([0-9/.-]{{8,10}})", body)
        if match:
            parsed = date_parse(match.group(1))
            if parsed:
                found[key] = parsed.isoformat()
    if "issue_date" not in found:
        for match in DATE_RE.finditer(body):
            parsed = date_parse(match.group(0))
            if parsed:
                found["issue_date"] = parsed.isoformat()
                break
    return found


def date_parse(text: str) -> date | None:
    """A date as Uruguayan documents print it (12/11/2026, 12.11.2026) or ISO (2026-11-12)."""
    match = DATE_RE.search(text)
    if not match:
        return None
    try:
        if match.group(4):
            return date(int(match.group(4)), int(match.group(5)), int(match.group(6)))
        return date(int(match.group(3)), int(match.group(2)), int(match.group(1)))
    except ValueError:
        return None


def extract_fields(text: str, kind: str) -> dict[str, Any]:
    """The fields a document of this kind carries, read from its text."""
    text = tidy(text)
    body = plain(text)
    fields: dict[str, Any] = {}
    fields.update(_ruts(body))
    fields.update(_number(body, kind))
    fields.update(_dates(body))
    fields.update(_currency(body))
    fields.update(_amounts(body))
    fields.update(_lines(text))
    fields.update(_references(body, kind))
    return fields


def _ruts(body: str) -> dict[str, Any]:
    """The main RUT (the labelled one, else the first) with its check digit's verdict, and another
    one when there is (the buyer's)."""
    ruts = ["".join(m.groups()) for m in RUT_RE.finditer(body)]
    if not ruts:
        return {}
    labelled = re.search(r"rut (?:emisor|vendedor|proveedor)?\s*[:]?\s*([\d .-]{12,17})", body)
    main = (
        "".join(RUT_RE.search(labelled.group(1)).groups()) if labelled and RUT_RE.search(labelled.group(1)) else ruts[0]
    )
    found: dict[str, Any] = {"rut": main, "rut_valid": uy_rut.is_valid(main)}
    others = [r for r in dict.fromkeys(ruts) if r != main]
    if others:
        found["rut_other"] = others[0]
    return found


def _number(body: str, kind: str) -> dict[str, str]:
    label = NUMBER_LABELS.get(kind)
    match = re.search(label, body, re.I) if label else None
    return {"number": "-".join(g for g in match.groups() if g).upper()} if match else {}


def _currency(body: str) -> dict[str, str]:
    if re.search(r"\b(?:usd|u\$s|us\$|dolares)\b", body):
        return {"currency": "USD"}
    if re.search(r"\b(?:uyu|\$u|pesos)\b", body) or "$" in body:
        return {"currency": "UYU"}
    return {}


AMOUNT_LABELS = (
    ("subtotal", r"subtotal|sub-total|neto"),
    ("iva", r"iva(?: \d{1,2}(?:[.,]\d+)? ?%| \(\d{1,2} ?%\))?"),
    ("total", r"total a pagar|importe total|total|importe transferido|monto transferido|importe|monto"),
)


def _amounts(body: str) -> dict[str, str]:
    found = {}
    for key, labels in AMOUNT_LABELS:
        value = _labelled_amount(body, labels)
        if value is not None:
            found[key] = str(value)
    return found


def _lines(text: str) -> dict[str, list[dict[str, str]]]:
    """The document's lines: description, quantity, unit price and amount (not its totals)."""
    lines = []
    for match in LINE_RE.finditer(text):
        if re.match(r"(?i)\s*(sub-?total|iva|total|importe)", match.group("description")):
            continue
        quantity, unit_price, amount = (money(match.group(k)) for k in ("quantity", "unit_price", "amount"))
        if None not in (quantity, unit_price, amount):
            lines.append(
                {
                    "description": match.group("description").strip()[:120],
                    "quantity": str(quantity),
                    "unit_price": str(unit_price),
                    "amount": str(amount),
                }
            )
    return {"lines": lines} if lines else {}


def _references(body: str, kind: str) -> dict[str, list[str]]:
    """The quotes it names, and the invoices (unless it is an invoice itself)."""
    found = {}
    references = sorted(set(re.findall(r"\bcot-\d{6}\b", body)))
    if references:
        found["quote_refs"] = [r.upper() for r in references]
    invoice_refs = [
        "-".join(g for g in m.groups() if g).upper()
        for m in re.finditer(r"factura\s*(?:serie\s*)?([a-z]{1,2})?\s*(?:n[°ºo.]*|nro\.?)?\s*[-: ]?\s*(\d{3,9})", body)
    ]
    if invoice_refs and kind != Kind.INVOICE:
        found["invoice_refs"] = sorted(set(invoice_refs))
    return found
