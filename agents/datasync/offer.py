"""What the marketplaces are told of a product: its price from a price list and a markup, and the
quantity available to sell."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django.db.models import F, Sum

from bmc.core.models import Tenant
from bmc.inventory.models import StockLevel
from bmc.quotes.models import Product


def offer_price(product: Product, *, price_list: str, markup: float) -> Decimal:
    """The product's `web` or `venta` price times the markup, to the cent."""
    base = product.price_web_usd if price_list == "web" else product.price_venta_usd
    return (base * Decimal(str(markup))).quantize(Decimal("0.01"), ROUND_HALF_UP)


def offer_stock(tenant: Tenant) -> dict[str, int]:
    """Whole units available of each SKU kept in stock (on hand less reserved, every active
    warehouse); a SKU not kept in stock is absent (made to order: its quantity is left alone)."""
    totals = (
        StockLevel.objects.filter(tenant=tenant, warehouse__active=True)
        .values("sku")
        .annotate(total=Sum(F("on_hand") - F("reserved")))
        .values_list("sku", "total")
    )
    return {sku: max(0, int(total)) for sku, total in totals}
