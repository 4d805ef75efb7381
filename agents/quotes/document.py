"""The quote document a customer receives: HTML from templates/quotes/quote.html, then a PDF.

Input is a plain dict (see `quote_document_context`), so a task can build it from a Quote row or
a test can write it by hand. Every number is formatted here, the Uruguayan way ("1.816,95"), so
the template only lays things out and never does arithmetic. The PDF comes from xhtml2pdf
(ReportLab underneath, pure pip), with the standard PDF fonts, so no system library or font is
needed.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.template.loader import render_to_string
from xhtml2pdf import pisa

from agents.quotes.pricing import IVA_RATE, VALIDITY_DAYS
from bmc.quotes.models import Quote

TEMPLATE = "quotes/quote.html"
SUMMARY_TEMPLATE = "quotes/summary.txt"
LOCAL_TZ = ZoneInfo("America/Montevideo")
CENT = Decimal("0.01")

COMPANY = {
    "name": "BMC Uruguay",
    "tagline": "Paneles aislantes para techos, paredes y cámaras frigoríficas",
    "city": "Montevideo, Uruguay",
    "email": "ventas@bmc.com.uy",
    "phone": "+598 2000 0000",
    "web": "www.bmc.com.uy",
}

UNIT_LABELS = {"m2": "m²", "m": "m", "piece": "pza.", "unit": "un.", "trip": "viaje"}
ZONE_LABELS = {
    "MONTEVIDEO": "Montevideo",
    "CANELONES": "Canelones",
    "MALDONADO": "Maldonado",
    "INTERIOR": "Interior del país",
}


class QuoteDocumentError(RuntimeError):
    """The PDF could not be produced from the rendered HTML."""


def _decimal(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _group(digits: str) -> str:
    """'1234567' -> '1.234.567'."""
    head = len(digits) % 3 or 3
    parts = [digits[:head]] + [digits[i : i + 3] for i in range(head, len(digits), 3)]
    return ".".join(parts)


def number_uy(value: Any, *, places: int = 2) -> str:
    """A number as written in Uruguay: '.' groups thousands, ',' marks decimals; half-up rounding."""
    amount = _decimal(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    sign = "-" if amount < 0 else ""
    integer, _, fraction = f"{abs(amount):f}".partition(".")
    return f"{sign}{_group(integer)}{',' + fraction if fraction else ''}"


def money_uy(value: Any) -> str:
    """Money to the cent: Decimal('1816.95') -> '1.816,95'."""
    return number_uy(value, places=2)


def quantity_uy(value: Any) -> str:
    """Whole quantities without decimals ('16'), others to the hundredth ('26,88')."""
    quantity = _decimal(value)
    return number_uy(quantity, places=0 if quantity == quantity.to_integral_value() else 2)


def _date_uy(value: date | datetime) -> str:
    if isinstance(value, datetime):
        value = value.astimezone(LOCAL_TZ).date()
    return value.strftime("%d/%m/%Y")


def quote_document_context(*, quote: Mapping[str, Any]) -> dict[str, Any]:
    """The template context: the quote's fields formatted for display, strings only.

    `quote` has `number`, `issued_at` (aware datetime), `valid_until` (date), `customer`
    ({name, phone, email, zone}, any may be empty), `lines` ([{sku, description, quantity, unit,
    unit_price, amount}]), `subtotal`, `iva`, `total` (Decimals), `estimate`, `spec_summary`,
    `catalog_version`, `status` and `currency`. Nothing is recomputed: the totals are the quote's.
    """
    currency = quote.get("currency") or "USD"
    customer = quote.get("customer") or {}
    zone = (customer.get("zone") or "").strip()
    lines = [
        {
            "sku": line.get("sku") or "",
            "description": line.get("description") or "",
            "quantity": quantity_uy(line["quantity"]),
            "unit": UNIT_LABELS.get(line.get("unit") or "", line.get("unit") or ""),
            "unit_price": money_uy(line["unit_price"]),
            "amount": money_uy(line["amount"]),
        }
        for line in quote.get("lines") or []
    ]
    return {
        "company": COMPANY,
        "number": quote["number"],
        "issued_on": _date_uy(quote["issued_at"]),
        "valid_until": _date_uy(quote["valid_until"]),
        "validity_days": VALIDITY_DAYS,
        "customer": {
            "name": (customer.get("name") or "").strip(),
            "phone": (customer.get("phone") or "").strip(),
            "email": (customer.get("email") or "").strip(),
            "zone": ZONE_LABELS.get(zone.upper(), zone),
        },
        "spec_summary": (quote.get("spec_summary") or "").strip(),
        "lines": lines,
        "currency": currency,
        "subtotal": money_uy(quote["subtotal"]),
        "iva": money_uy(quote["iva"]),
        "iva_rate": number_uy(IVA_RATE * 100, places=0),
        "total": money_uy(quote["total"]),
        "estimate": bool(quote.get("estimate")),
        "pending_approval": quote.get("status") == "pending_approval",
        "catalog_version": quote.get("catalog_version"),
    }


def quote_document_html(*, quote: Mapping[str, Any]) -> str:
    """The quote document as HTML (autoescaped: customer text cannot inject markup)."""
    return render_to_string(TEMPLATE, quote_document_context(quote=quote))


def quote_document_pdf(*, quote: Mapping[str, Any]) -> bytes:
    """The quote document as PDF bytes (A4). Raises QuoteDocumentError if xhtml2pdf fails."""
    html = quote_document_html(quote=quote)
    out = io.BytesIO()
    status = pisa.CreatePDF(html, dest=out, encoding="utf-8")
    if status.err:
        raise QuoteDocumentError(f"quote {quote.get('number')}: xhtml2pdf reported {status.err} error(s)")
    return out.getvalue()


FAMILY_NAMES = {
    "ISODEC_EPS": "Isodec EPS",
    "ISODEC_PIR": "Isodec PIR",
    "ISOROOF_3G": "Isoroof 3G",
    "ISOPANEL_EPS": "Isopanel EPS",
    "ISOWALL_PIR": "Isowall PIR",
    "ISOFRIG_PIR": "Isofrig PIR",
}


def _measure_uy(value: Any) -> str:
    """4.48 -> '4,48'; 6.0 or '6.00' -> '6'; None -> ''."""
    if value is None or value == "":
        return ""
    return f"{Decimal(str(value)).normalize():f}".replace(".", ",")


def quote_summary_es(spec: dict[str, Any]) -> str:
    """'Techo con Isodec EPS 100 mm, a un agua, 6 x 4,48 m, color Blanco, con flete a Montevideo':
    every input of the spec the customer can see priced (corners, gutters, accessories left out,
    the web price list, freight or pickup),
    worded by templates/quotes/summary.txt. Values go in as text: the locale formats no number."""
    scenario = spec.get("scenario", "roof")
    zone = spec.get("zone") or ""
    context = {
        "where": {"roof": "Techo", "wall": "Pared", "cold_room": "Cámara"}.get(scenario, "Obra"),
        "family": str(FAMILY_NAMES.get(spec.get("family"), spec.get("family"))),
        "thickness_mm": str(spec.get("thickness_mm")),
        "slopes": ("a dos aguas" if int(spec.get("slopes", 1)) == 2 else "a un agua") if scenario == "roof" else "",
        "scenario": scenario,
        **{key: _measure_uy(spec.get(key)) for key in ("length_m", "width_m", "run_m", "height_m")},
        "panel_count": str(spec.get("panel_count") or ""),
        "area_m2": str(spec.get("area_m2") or "").replace(".", ","),
        "corners": int(spec.get("corners") or 0),
        "color": str(spec.get("color") or ""),
        "gutters": bool(spec.get("gutters")) and scenario == "roof",
        # what the customer left out, named so a misreading shows at a glance
        "left_out": [
            words
            for key, words in (("drip_edges", "goteros"), ("fixings", "kits de fijación"), ("sealant", "silicona"))
            if spec.get(key) is False and (key != "drip_edges" or scenario == "roof")
        ],
        "web": spec.get("price_list") == "web",
        "zone": zone,
        "zone_label": ZONE_LABELS.get(zone, zone),
    }
    return render_to_string(SUMMARY_TEMPLATE, context)


def quote_document_data(*, quote: Quote) -> dict[str, Any]:
    """The document's input from a stored quote."""
    customer = quote.customer
    return {
        "number": quote.number,
        "issued_at": quote.created_at,
        "valid_until": quote.valid_until,
        "customer": {
            "name": customer.name if customer else "",
            "phone": customer.phone if customer else "",
            "email": customer.email if customer else "",
            "zone": (customer.zone if customer else "") or quote.spec.get("zone", ""),
        },
        "lines": [
            {
                "sku": ln.sku,
                "description": ln.description,
                "quantity": ln.quantity,
                "unit": ln.unit,
                "unit_price": ln.unit_price,
                "amount": ln.amount,
            }
            for ln in quote.lines.all()
        ],
        "subtotal": quote.subtotal,
        "iva": quote.iva,
        "total": quote.total,
        "estimate": quote.estimate,
        "spec_summary": quote_summary_es(quote.spec),
        "catalog_version": quote.catalog_version.version,
        "status": quote.status,
        "currency": quote.currency,
    }


def _quote_signer():
    from django.core.signing import Signer

    return Signer(salt="quote-pdf")


def quote_public_path(quote: Quote) -> str:
    """An unguessable link to the quote's PDF that a customer opens without an API key."""
    token = _quote_signer().sign(str(quote.pk)).split(":", 1)[1]
    return f"/q/{quote.pk}/{token}.pdf"


def quote_public_token_valid(*, quote_id: int, token: str) -> bool:
    from django.core.signing import BadSignature

    try:
        return _quote_signer().unsign(f"{quote_id}:{token}") == str(quote_id)
    except BadSignature:
        return False
