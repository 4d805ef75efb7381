"""The customer's quote document: HTML from the template, then a one-page PDF."""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from pypdf import PdfReader

from agents.quotes.document import money_uy, quantity_uy, quote_document_html, quote_document_pdf

# The worked example Q1 of tests/data/quote_examples.json.
SAMPLE_LINES = [
    ("ISODEC_EPS_100", "Isodec EPS 100 mm", "26.88", "m2", "47.50", "1276.80"),
    ("KIT_FIJACION_TECHO", "Kit de fijacion para techo", "16", "unit", "2.35", "37.60"),
    ("GOTERO_FRONTAL", "Gotero frontal (pieza 3,0 m)", "2", "piece", "14.90", "29.80"),
    ("GOTERO_LATERAL", "Gotero lateral (pieza 3,0 m)", "4", "piece", "16.40", "65.60"),
    ("SILICONA", "Silicona neutra (pomo)", "3", "unit", "6.50", "19.50"),
    ("FLETE_MONTEVIDEO", "Flete a Montevideo", "1", "trip", "60.00", "60.00"),
]


def sample_quote(**overrides) -> dict:
    quote = {
        "number": "COT-000123",
        "issued_at": datetime(2026, 1, 15, 13, 30, tzinfo=UTC),
        "valid_until": date(2026, 1, 25),
        "customer": {
            "name": "Juan Pérez",
            "phone": "+598 99 123 456",
            "email": "juan@example.com",
            "zone": "MONTEVIDEO",
        },
        "lines": [
            {
                "sku": sku,
                "description": description,
                "quantity": Decimal(quantity),
                "unit": unit,
                "unit_price": Decimal(unit_price),
                "amount": Decimal(amount),
            }
            for sku, description, quantity, unit, unit_price, amount in SAMPLE_LINES
        ],
        "subtotal": Decimal("1489.30"),
        "iva": Decimal("327.65"),
        "total": Decimal("1816.95"),
        "estimate": False,
        "spec_summary": "Techo a 1 agua, Isodec EPS 100 mm, 6,00 x 4,48 m, color Blanco",
        "catalog_version": 3,
        "status": "draft",
        "currency": "USD",
    }
    quote.update(overrides)
    return quote


def pdf_pages(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


@pytest.fixture(scope="module")
def sample_pdf() -> bytes:
    return quote_document_pdf(quote=sample_quote())


def test_sample_pdf_is_one_page(sample_pdf):
    assert sample_pdf.startswith(b"%PDF")
    assert len(pdf_pages(sample_pdf)) == 1


def test_sample_pdf_text_has_number_totals_customer_and_validity(sample_pdf):
    text = pdf_pages(sample_pdf)[0]
    for expected in ("COT-000123", "1.816,95", "1.489,30", "327,65", "1.276,80", "IVA", "Juan Pérez", "Válida hasta"):
        assert expected in text, expected
    assert "25/01/2026" in text
    assert "15/01/2026" in text


def test_issue_date_is_shown_in_montevideo_time():
    # 02:00 UTC on the 16th is still the 15th in Montevideo (UTC-3).
    html = quote_document_html(quote=sample_quote(issued_at=datetime(2026, 1, 16, 2, 0, tzinfo=UTC)))
    assert "15/01/2026" in html
    assert "16/01/2026" not in html


def test_twelve_lines_with_both_notes_still_fit_one_page():
    quote = sample_quote(estimate=True, status="pending_approval")
    quote["lines"] = quote["lines"] * 2
    assert len(pdf_pages(quote_document_pdf(quote=quote))) == 1


def test_hostile_customer_text_is_escaped():
    hostile = "<script>alert(1)</script>"
    quote = sample_quote(customer={"name": hostile, "phone": "", "email": "", "zone": ""}, spec_summary=hostile)
    html = quote_document_html(quote=quote)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert hostile in pdf_pages(quote_document_pdf(quote=quote))[0]


def test_empty_customer_fields_are_left_out():
    html = quote_document_html(quote=sample_quote(customer={"name": "", "phone": "", "email": "", "zone": ""}))
    assert "Teléfono" not in html
    assert "Email" not in html


def test_estimate_shows_the_estimate_note():
    assert "sujeta a medidas" not in quote_document_html(quote=sample_quote())
    text = pdf_pages(quote_document_pdf(quote=sample_quote(estimate=True)))[0]
    assert "Cotización estimada, sujeta a medidas" in text


def test_pending_approval_shows_the_approval_note():
    assert "Pendiente de aprobación" not in quote_document_html(quote=sample_quote(status="sent"))
    assert "Pendiente de aprobación" in quote_document_html(quote=sample_quote(status="pending_approval"))


def test_lines_are_formatted_the_uruguayan_way():
    html = re.sub(r"\s+", " ", quote_document_html(quote=sample_quote()))
    assert ">26,88<" in html
    assert ">16<" in html
    assert "USD 1.816,95" in html
    assert "IVA 22 %" in html


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("1816.95"), "1.816,95"),
        (Decimal("0"), "0,00"),
        (Decimal("999.995"), "1.000,00"),
        (Decimal("1234567.8"), "1.234.567,80"),
        (Decimal("-50"), "-50,00"),
        ("60.00", "60,00"),
    ],
)
def test_money_uy(value, expected):
    assert money_uy(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(Decimal("16"), "16"), (Decimal("3.0"), "3"), (Decimal("26.88"), "26,88"), (Decimal("1500"), "1.500")],
)
def test_quantity_uy(value, expected):
    assert quantity_uy(value) == expected


@pytest.mark.parametrize(
    ("spec", "summary"),
    [
        (
            {
                "scenario": "roof",
                "family": "ISODEC_EPS",
                "thickness_mm": 100,
                "slopes": 2,
                "length_m": 6,
                "width_m": 4.48,
                "color": "Blanco",
                "zone": "MONTEVIDEO",
            },
            "Techo con Isodec EPS 100 mm, a dos aguas, paneles de 6 m x 4,48 m de ancho, color Blanco, "
            "con flete a Montevideo",
        ),
        (
            {"scenario": "wall", "family": "ISOPANEL_EPS", "thickness_mm": 50, "run_m": 12.5, "length_m": 3},
            "Pared con Isopanel EPS 50 mm, 12,5 m lineales x 3 m de alto, sin flete",
        ),
        (
            {
                "scenario": "cold_room",
                "family": "ISOFRIG_PIR",
                "thickness_mm": 150,
                "length_m": 4,
                "width_m": 3,
                "height_m": 2.6,
                "zone": "INTERIOR",
            },
            "Cámara con Isofrig PIR 150 mm, 4 x 3 m y 2,6 m de alto, con flete al interior del país",
        ),
        (
            {"scenario": "roof", "family": "ISODEC_PIR", "thickness_mm": 80, "area_m2": 30.5},
            "Techo con Isodec PIR 80 mm, a un agua, 30,5 m2 (estimado), sin flete",
        ),
        (
            # every input the customer can change is named, so a misreading shows at a glance
            {
                "scenario": "roof",
                "family": "ISOROOF_3G",
                "thickness_mm": 30,
                "panel_count": 10,
                "length_m": "3.00",
                "gutters": True,
                "drip_edges": False,
                "fixings": False,
                "sealant": False,
                "price_list": "web",
                "zone": "CANELONES",
            },
            "Techo con Isoroof 3G 30 mm, a un agua, 10 paneles de 3 m, con canalones, sin goteros, sin kits de "
            "fijación, sin silicona, a precio web, con flete a Canelones",
        ),
        (
            {
                "scenario": "wall",
                "family": "ISOWALL_PIR",
                "thickness_mm": 80,
                "run_m": 22,
                "length_m": 2.6,
                "corners": 4,
            },
            "Pared con Isowall PIR 80 mm, 22 m lineales x 2,6 m de alto, 4 esquinas, sin flete",
        ),
    ],
)
def test_the_summary_a_customer_reads_says_what_is_quoted(spec, summary):
    """The sentence in the reply, the follow-ups and the PDF (templates/quotes/summary.txt)."""
    from agents.quotes.document import quote_summary_es

    assert quote_summary_es(spec) == summary
