"""A document's own checks (its fields add up: lines, subtotal + IVA = total at a Uruguayan rate;
its RUT's check digit; plausible dates; the fields its kind requires) and its quality score."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from stdnum.uy import rut as uy_rut

from agents.documents.fields import CENT
from bmc.documents.models import Document

Kind = Document.Kind
IVA_RATES = (Decimal("0.22"), Decimal("0.10"))  # Uruguay: basic and minimum rates
REQUIRED = {
    Kind.INVOICE: ("number", "rut", "issue_date", "total"),
    Kind.PURCHASE_ORDER: ("number", "total"),
    Kind.PAYMENT_RECEIPT: ("issue_date", "total"),
    Kind.DELIVERY_NOTE: ("number",),
    Kind.QUOTE_REQUEST: (),
    Kind.OTHER: (),
}

Check = dict[str, Any]


def _check(name: str, ok: bool, detail: str) -> Check:
    return {"check": name, "ok": ok, "detail": detail}


def _amount(fields: dict[str, Any], key: str) -> Decimal | None:
    return Decimal(fields[key]) if key in fields else None


def _required_checks(fields: dict[str, Any], *, kind: str, today: date) -> list[Check]:
    if not REQUIRED.get(kind):
        return []
    missing = [f for f in REQUIRED[kind] if f not in fields]
    return [_check("required_fields", not missing, f"missing: {', '.join(missing)}" if missing else "all present")]


def _rut_checks(fields: dict[str, Any], *, kind: str, today: date) -> list[Check]:
    if "rut" not in fields:
        return []
    valid = bool(fields.get("rut_valid"))
    shown = uy_rut.format(fields["rut"]) if valid else fields["rut"]
    return [_check("rut", valid, f"RUT {shown}" + ("" if valid else ": the check digit does not match"))]


def _line_checks(fields: dict[str, Any], *, kind: str, today: date) -> list[Check]:
    """Each line's quantity times its price, then the lines against the subtotal."""
    lines, subtotal = fields.get("lines") or [], _amount(fields, "subtotal")
    checks = []
    for line in lines:
        expected = (Decimal(line["quantity"]) * Decimal(line["unit_price"])).quantize(CENT)
        if abs(expected - Decimal(line["amount"])) > Decimal("0.02"):
            detail = (
                f"{line['description']}: {line['quantity']} x {line['unit_price']} is {expected}, not {line['amount']}"
            )
            checks.append(_check("line_math", False, detail))
    if lines and subtotal is not None:
        added = sum(Decimal(line["amount"]) for line in lines)
        checks.append(
            _check("lines_add_up", abs(added - subtotal) <= CENT, f"lines add up to {added}; subtotal {subtotal}")
        )
    return checks


def _total_checks(fields: dict[str, Any], *, kind: str, today: date) -> list[Check]:
    """Subtotal + IVA = total, and the IVA at one of Uruguay's rates."""
    subtotal, iva, total = (_amount(fields, key) for key in ("subtotal", "iva", "total"))
    if subtotal is None or iva is None or total is None:
        return []
    rate = next((r for r in IVA_RATES if abs((subtotal * r).quantize(CENT) - iva) <= Decimal("0.02")), None)
    return [
        _check(
            "total_adds_up",
            abs(subtotal + iva - total) <= CENT,
            f"{subtotal} + IVA {iva} = {subtotal + iva}; total {total}",
        ),
        _check(
            "iva_rate",
            rate is not None,
            f"IVA {iva} on {subtotal} is {int(rate * 100)} %"
            if rate
            else f"IVA {iva} on {subtotal}: neither 22 % nor 10 %",
        ),
    ]


def _date_checks(fields: dict[str, Any], *, kind: str, today: date) -> list[Check]:
    """Dates since 2000 and not in the future (a due date up to 400 days ahead); due after issue."""
    checks = []
    for key in ("issue_date", "due_date"):
        if key in fields:
            value = date.fromisoformat(fields[key])
            plausible = date(2000, 1, 1) <= value <= today + timedelta(days=400 if key == "due_date" else 1)
            checks.append(_check(f"{key}_plausible", plausible, f"{key.replace('_', ' ')} {value:%d/%m/%Y}"))
    if "issue_date" in fields and "due_date" in fields and fields["due_date"] < fields["issue_date"]:
        checks.append(_check("due_after_issue", False, f"due {fields['due_date']} before issue {fields['issue_date']}"))
    return checks


# The document's checks, in the order they are listed.
VALIDATORS: tuple[Callable[..., list[Check]], ...] = (
    _required_checks,
    _rut_checks,
    _line_checks,
    _total_checks,
    _date_checks,
)


def validate_fields(fields: dict[str, Any], kind: str, *, today: date) -> list[Check]:
    return [check for validator in VALIDATORS for check in validator(fields, kind=kind, today=today)]


def quality_score(*, kind_confidence: float, kind: str, fields: dict[str, Any], checks: list[Check]) -> float:
    required = REQUIRED.get(kind, ())
    present = sum(1 for f in required if f in fields) / len(required) if required else 0.5
    passed = sum(1 for c in checks if c["ok"]) / len(checks) if checks else 0.5
    return round(0.4 * kind_confidence + 0.3 * present + 0.3 * passed, 3)
