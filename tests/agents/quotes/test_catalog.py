from decimal import Decimal

import pytest
from django.conf import settings

from agents.quotes.catalog import CatalogError, catalog_import
from bmc.quotes.models import CatalogVersion, Product

pytestmark = pytest.mark.django_db


def demo_csv() -> str:
    return settings.DEMO_CATALOG_PATH.read_text(encoding="utf-8")


def test_demo_catalog_loads_once_and_a_change_makes_a_new_version(tenant):
    assert catalog_import(tenant=tenant, csv_text=demo_csv(), source="demo") == {
        "version": 1,
        "created": True,
        "products": 35,
    }
    assert catalog_import(tenant=tenant, csv_text=demo_csv(), source="demo")["created"] is False
    panel = Product.objects.get(catalog_version__version=1, sku="ISODEC_EPS_100")
    assert (panel.price_venta_usd, panel.useful_width_m, panel.colors) == (
        Decimal("47.50"),
        Decimal("1.120"),
        ["Blanco", "Gris", "Rojo"],
    )

    changed = demo_csv().replace("47.50,49.88", "48.00,50.40")
    assert catalog_import(tenant=tenant, csv_text=changed, source="sheet")["version"] == 2
    assert CatalogVersion.objects.get(is_current=True).version == 2
    # the old version keeps its prices: quotes priced with it never change
    assert Product.objects.get(catalog_version__version=1, sku="ISODEC_EPS_100").price_venta_usd == Decimal("47.50")
    assert Product.objects.get(catalog_version__version=2, sku="ISODEC_EPS_100").price_venta_usd == Decimal("48.00")


@pytest.mark.parametrize(
    "mangle, message",
    [
        (lambda text: text.replace("price_web_usd,", ""), "Missing columns: price_web_usd"),
        (
            lambda text: text.replace("47.50", "cuarenta"),
            "Row 2: 'price_venta_usd' must be a decimal number, got 'cuarenta'",
        ),
        (
            lambda text: text.replace(",panel,", ",chapa,", 1),
            "Row 2: kind 'chapa' is not one of accessory, panel, shipping",
        ),
        (lambda text: text + text.splitlines()[1] + "\n", "appears twice"),
    ],
)
def test_a_bad_catalog_is_refused_saying_where(tenant, mangle, message):
    with pytest.raises(CatalogError, match=message):
        catalog_import(tenant=tenant, csv_text=mangle(demo_csv()), source="bad")
    assert not CatalogVersion.objects.exists()
