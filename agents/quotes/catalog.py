"""The product catalog, versioned: an import that changes something makes a new version."""

from __future__ import annotations

import csv
import hashlib
import io
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction

from bmc.core.models import Tenant
from bmc.quotes.models import CatalogVersion, Product

REQUIRED_COLUMNS = (
    "sku",
    "kind",
    "family",
    "name",
    "use",
    "thickness_mm",
    "useful_width_m",
    "max_span_m",
    "unit",
    "piece_length_m",
    "price_venta_usd",
    "price_web_usd",
    "colors",
)


class CatalogError(ValueError):
    """A catalog file that cannot be imported; says which row and column, and what is allowed."""


def _decimal(value: str, *, row: int, column: str, required: bool = False) -> Decimal | None:
    if value == "":
        if required:
            raise CatalogError(f"Row {row}: '{column}' is required.")
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise CatalogError(f"Row {row}: '{column}' must be a decimal number, got '{value}'.") from None
    if number < 0:
        raise CatalogError(f"Row {row}: '{column}' cannot be negative, got '{value}'.")
    return number


def catalog_parse(*, csv_text: str) -> list[dict[str, Any]]:
    reader = csv.DictReader(io.StringIO(csv_text))
    missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise CatalogError(f"Missing columns: {', '.join(missing)}. Expected: {', '.join(REQUIRED_COLUMNS)}.")
    kinds = set(Product.Kind.values)
    rows, seen = [], set()
    for number, raw in enumerate(reader, start=2):
        sku = raw["sku"].strip()
        if not sku:
            raise CatalogError(f"Row {number}: 'sku' is required.")
        if sku in seen:
            raise CatalogError(f"Row {number}: sku '{sku}' appears twice.")
        seen.add(sku)
        if raw["kind"] not in kinds:
            raise CatalogError(f"Row {number}: kind '{raw['kind']}' is not one of {', '.join(sorted(kinds))}.")
        thickness = raw["thickness_mm"].strip()
        if thickness and not thickness.isdigit():
            raise CatalogError(f"Row {number}: 'thickness_mm' must be a whole number, got '{thickness}'.")
        rows.append(
            {
                "sku": sku,
                "kind": raw["kind"],
                "family": raw["family"].strip(),
                "name": raw["name"].strip(),
                "use": raw["use"].strip(),
                "thickness_mm": int(thickness) if thickness else None,
                "useful_width_m": _decimal(raw["useful_width_m"], row=number, column="useful_width_m"),
                "max_span_m": _decimal(raw["max_span_m"], row=number, column="max_span_m"),
                "unit": raw["unit"].strip(),
                "piece_length_m": _decimal(raw["piece_length_m"], row=number, column="piece_length_m"),
                "price_venta_usd": _decimal(
                    raw["price_venta_usd"], row=number, column="price_venta_usd", required=True
                ),
                "price_web_usd": _decimal(raw["price_web_usd"], row=number, column="price_web_usd", required=True),
                "colors": [c.strip() for c in raw["colors"].split("|") if c.strip()],
            }
        )
    if not rows:
        raise CatalogError("The catalog has no rows.")
    return rows


def _checksum(rows: list[dict[str, Any]]) -> str:
    canonical = "\n".join(repr(sorted((k, str(v)) for k, v in row.items())) for row in rows)
    return hashlib.sha256(canonical.encode()).hexdigest()


def catalog_import(*, tenant: Tenant, csv_text: str, source: str) -> dict[str, Any]:
    """Import a catalog; the same content as the current version changes nothing."""
    rows = catalog_parse(csv_text=csv_text)
    checksum = _checksum(rows)
    with transaction.atomic():
        current = CatalogVersion.objects.select_for_update().filter(tenant=tenant, is_current=True).first()
        if current and current.checksum == checksum:
            return {"version": current.version, "created": False, "products": current.product_count}
        last = CatalogVersion.objects.filter(tenant=tenant).order_by("-version").first()
        CatalogVersion.objects.filter(tenant=tenant, is_current=True).update(is_current=False)
        version = CatalogVersion.objects.create(
            tenant=tenant,
            version=(last.version + 1) if last else 1,
            source=source[:300],
            checksum=checksum,
            product_count=len(rows),
            is_current=True,
        )
        Product.objects.bulk_create([Product(tenant=tenant, catalog_version=version, **row) for row in rows])
    return {"version": version.version, "created": True, "products": len(rows)}
