"""A document's own checks (its fields add up: lines, subtotal + IVA = total at a Uruguayan rate;
its RUT's check digit; plausible dates; the fields its kind requires) and its quality score."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext, pgettext
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
    detail = gettext("missing: %(fields)s") % {"fields": ", ".join(missing)} if missing else gettext("all present")
    return [_check("required_fields", not missing, detail)]


def _rut_checks(fields: dict[str, Any], *, kind: str, today: date) -> list[Check]:
    if "rut" not in fields:
        return []
    valid = bool(fields.get("rut_valid"))
    shown = uy_rut.format(fields["rut"]) if valid else fields["rut"]
    detail = f"RUT {shown}" if valid else gettext("RUT %(rut)s: the check digit does not match") % {"rut": shown}
    return [_check("rut", valid, detail)]


def _line_checks(fields: dict[str, Any], *, kind: str, today: date) -> list[Check]:
    """Each line's quantity times its price, then the lines against the subtotal."""
    lines, subtotal = fields.get("lines") or [], _amount(fields, "subtotal")
    checks = []
    for line in lines:
        expected = (Decimal(line["quantity"]) * Decimal(line["unit_price"])).quantize(CENT)
        if abs(expected - Decimal(line["amount"])) > Decimal("0.02"):
            detail = gettext("%(description)s: %(quantity)s x %(price)s is %(expected)s, not %(amount)s") % {
                "description": line["description"],
                "quantity": line["quantity"],
                "price": line["unit_price"],
                "expected": expected,
                "amount": line["amount"],
            }
            checks.append(_check("line_math", False, detail))
    if lines and subtotal is not None:
        added = sum(Decimal(line["amount"]) for line in lines)
        detail = gettext("lines add up to %(added)s; subtotal %(subtotal)s") % {"added": added, "subtotal": subtotal}
        checks.append(_check("lines_add_up", abs(added - subtotal) <= CENT, detail))
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
            gettext("%(subtotal)s + IVA %(iva)s = %(sum)s; total %(total)s")
            % {"subtotal": subtotal, "iva": iva, "sum": subtotal + iva, "total": total},
        ),
        _check(
            "iva_rate",
            rate is not None,
            gettext("IVA %(iva)s on %(subtotal)s is %(rate)s %%")
            % {"iva": iva, "subtotal": subtotal, "rate": int(rate * 100)}
            if rate
            else gettext("IVA %(iva)s on %(subtotal)s: neither 22 %% nor 10 %%") % {"iva": iva, "subtotal": subtotal},
        ),
    ]


def _date_checks(fields: dict[str, Any], *, kind: str, today: date) -> list[Check]:
    """Dates since 2000 and not in the future (a due date up to 400 days ahead); due after issue."""
    checks = []
    for key in ("issue_date", "due_date"):
        if key in fields:
            value = date.fromisoformat(fields[key])
            plausible = date(2000, 1, 1) <= value <= today + timedelta(days=400 if key == "due_date" else 1)
            name = (
                pgettext("a document's date", "issue date")
                if key == "issue_date"
                else pgettext("a document's date", "due date")
            )
            detail = f"{name} {value:%d/%m/%Y}"
            checks.append(_check(f"{key}_plausible", plausible, detail))
    if "issue_date" in fields and "due_date" in fields and fields["due_date"] < fields["issue_date"]:
        detail = gettext("due %(due)s before issue %(issue)s") % {
            "due": f"{date.fromisoformat(fields['due_date']):%d/%m/%Y}",
            "issue": f"{date.fromisoformat(fields['issue_date']):%d/%m/%Y}",
        }
        checks.append(_check("due_after_issue", False, detail))
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
