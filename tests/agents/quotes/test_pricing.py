"""The pricing contract (docs/domain/QUOTING.md) against its worked examples (tests/data)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings

from agents.quotes.catalog import catalog_import
from agents.quotes.pricing import QuoteSpecError, catalog_snapshot, quote_price, quote_spec_parse

EXAMPLES_PATH = Path(__file__).resolve().parents[2] / "data" / "quote_examples.json"
EXAMPLES = json.loads(EXAMPLES_PATH.read_text())

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalog(tenant):
    catalog_import(tenant=tenant, csv_text=settings.DEMO_CATALOG_PATH.read_text(), source="demo")
    return catalog_snapshot(tenant=tenant)


def price(catalog, spec: dict) -> dict:
    return quote_price(spec=quote_spec_parse(data=spec, catalog=catalog), catalog=catalog).as_dict()


@pytest.mark.parametrize("example", EXAMPLES, ids=[e["id"] for e in EXAMPLES])
def test_worked_examples_match_to_the_cent(catalog, example):
    result = price(catalog, example["spec"])
    expected = example["expected"]
    assert [{k: line[k] for k in ("sku", "quantity", "unit_price", "amount")} for line in result["lines"]] == expected[
        "lines"
    ]
    for key in ("subtotal", "iva", "total", "estimate", "requires_approval"):
        assert result[key] == expected[key], key
    assert result["catalog_version"] == 1


def test_the_main_example_by_hand(catalog):
    """cuanto sale isodec 100 para un techo de 6 x 4,48 con flete a montevideo: 4.48/1.12 is
    exactly 4 panels in decimal arithmetic (binary floats would say 5)."""
    result = price(
        catalog, {"family": "ISODEC_EPS", "thickness_mm": 100, "length_m": 6, "width_m": 4.48, "zone": "MONTEVIDEO"}
    )
    assert result["lines"][0]["quantity"] == "26.88" and result["total"] == "1816.95"
    assert result["lines"][0]["description"] == "Isodec EPS 100 mm"


def test_same_spec_same_result_and_strings_equal_numbers(catalog):
    spec = {"family": "isodec_eps", "thickness_mm": "100", "length_m": "6", "width_m": "4,48", "zone": "montevideo"}
    assert price(catalog, spec) == price(
        catalog, {"family": "ISODEC_EPS", "thickness_mm": 100, "length_m": 6.0, "width_m": 4.48, "zone": "MONTEVIDEO"}
    )


def test_estimate_asks_for_the_measures(catalog):
    spec = quote_spec_parse(data={"family": "ISODEC_EPS", "thickness_mm": 150, "area_m2": 50}, catalog=catalog)
    result = quote_price(spec=spec, catalog=catalog)
    assert result.estimate and result.missing_for_full_quote == ("length_m", "width_m")


def test_a_new_catalog_version_prices_new_quotes_only(catalog, tenant):
    old = price(catalog, {"family": "ISODEC_EPS", "thickness_mm": 100, "length_m": 6, "width_m": 4.48})
    catalog_import(
        tenant=tenant,
        csv_text=settings.DEMO_CATALOG_PATH.read_text().replace("47.50,49.88", "50.00,52.50"),
        source="sheet",
    )
    new = price(
        catalog_snapshot(tenant=tenant), {"family": "ISODEC_EPS", "thickness_mm": 100, "length_m": 6, "width_m": 4.48}
    )
    assert (old["catalog_version"], new["catalog_version"]) == (1, 2)
    assert Decimal(new["total"]) > Decimal(old["total"])


@pytest.mark.parametrize(
    "spec, field, says",
    [
        (
            {"family": "ISODEC_EPS", "thickness_mm": 120, "length_m": 6, "width_m": 4},
            "thickness_mm",
            "thicknesses: 100, 150, 200, 250 mm",
        ),
        ({"family": "ISOCHAPA", "thickness_mm": 100}, "family", "ISODEC_EPS"),
        ({"thickness_mm": 100}, "family", "is required"),
        (
            {"family": "ISODEC_EPS", "thickness_mm": 100, "length_m": 6, "width_m": 4, "color": "Verde"},
            "color",
            "Blanco, Gris, Rojo",
        ),
        (
            {"family": "ISODEC_EPS", "thickness_mm": 100, "length_m": 14.5, "width_m": 4},
            "length_m",
            "longer than 14.00 m",
        ),
        ({"family": "ISODEC_EPS", "thickness_mm": 100, "length_m": -2, "width_m": 4}, "length_m", "positive"),
        (
            {"family": "ISOPANEL_EPS", "thickness_mm": 100, "length_m": 3, "run_m": 24, "corners": -1},
            "corners",
            "whole number from 0",
        ),
        ({"family": "ISODEC_EPS", "thickness_mm": 100, "length_m": 6, "width_m": 250}, "width_m", "200 m"),
        ({"family": "ISODEC_EPS", "thickness_mm": 100, "area_m2": 20000}, "area_m2", "10000 m2"),
        ({"family": "ISODEC_EPS", "thickness_mm": 100, "length_m": 6, "panel_count": 600}, "panel_count", "500"),
        ({"family": "ISODEC_EPS", "thickness_mm": 100, "length_m": 6}, "width_m", "width_m"),
        ({"family": "ISODEC_EPS", "thickness_mm": 100, "length_m": 6, "width_m": 4, "slopes": 3}, "slopes", "1 or 2"),
        (
            {"family": "ISODEC_EPS", "thickness_mm": 100, "length_m": 6, "width_m": 4, "zone": "PAYSANDU"},
            "zone",
            "INTERIOR",
        ),
        (
            {"family": "ISODEC_EPS", "thickness_mm": 100, "length_m": 6, "width_m": 4, "discount": 50},
            "discount",
            "not a spec field",
        ),
        (
            {"family": "ISODEC_EPS", "thickness_mm": 100, "length_m": 6, "width_m": 4, "price_list": "amigos"},
            "price_list",
            "venta, web",
        ),
    ],
)
def test_bad_specs_name_the_field_and_what_is_allowed(catalog, spec, field, says):
    with pytest.raises(QuoteSpecError) as error:
        quote_spec_parse(data=spec, catalog=catalog)
    assert error.value.field == field and says in error.value.message


@pytest.mark.parametrize("corners", [0, "0"])
def test_no_corners_is_allowed_however_written(catalog, corners):
    spec = {"family": "ISOPANEL_EPS", "thickness_mm": 100, "length_m": 3, "run_m": 24, "corners": corners}
    assert quote_spec_parse(data=spec, catalog=catalog).corners == 0
