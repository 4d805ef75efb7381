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
    """A catalog file that cannot be imported; says which row and column, and what is allowed.
    `code` (required, decimal, negative, whole, kind), `column` and `value` say it as data, for
    whoever words it for people (the price list sheet's status column)."""

    def __init__(self, message: str, *, code: str = "", column: str = "", value: str = "") -> None:
        super().__init__(message)
        self.code, self.column, self.value = code, column, value


def _decimal(value: str, *, row: int, column: str, required: bool = False) -> Decimal | None:
    if value == "":
        if required:
            raise CatalogError(f"Row {row}: '{column}' is required.", code="required", column=column)
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise CatalogError(
            f"Row {row}: '{column}' must be a decimal number, got '{value}'.",
            code="decimal",
            column=column,
            value=value,
        ) from None
    if number < 0:
        raise CatalogError(
            f"Row {row}: '{column}' cannot be negative, got '{value}'.", code="negative", column=column, value=value
        )
    return number


def catalog_row_read(raw: dict[str, str | None], *, row: int) -> dict[str, Any]:
    """One catalog row (its columns as text) read into a product's fields; CatalogError names the
    row, the column and what is allowed."""

    def text(column: str) -> str:
        return str(raw.get(column) or "").strip()

    sku = text("sku")
    if not sku:
        raise CatalogError(f"Row {row}: 'sku' is required.", code="required", column="sku")
    kind = text("kind")
    kinds = Product.Kind.values
    if kind not in kinds:
        raise CatalogError(
            f"Row {row}: kind '{kind}' is not one of {', '.join(sorted(kinds))}.",
            code="kind",
            column="kind",
            value=kind,
        )
    thickness = text("thickness_mm")
    if thickness and not thickness.isdigit():
        raise CatalogError(
            f"Row {row}: 'thickness_mm' must be a whole number, got '{thickness}'.",
            code="whole",
            column="thickness_mm",
            value=thickness,
        )
    return {
        "sku": sku,
        "kind": kind,
        "family": text("family"),
        "name": text("name"),
        "use": text("use"),
        "thickness_mm": int(thickness) if thickness else None,
        "useful_width_m": _decimal(text("useful_width_m"), row=row, column="useful_width_m"),
        "max_span_m": _decimal(text("max_span_m"), row=row, column="max_span_m"),
        "unit": text("unit"),
        "piece_length_m": _decimal(text("piece_length_m"), row=row, column="piece_length_m"),
        "price_venta_usd": _decimal(text("price_venta_usd"), row=row, column="price_venta_usd", required=True),
        "price_web_usd": _decimal(text("price_web_usd"), row=row, column="price_web_usd", required=True),
        "colors": [c.strip() for c in text("colors").split("|") if c.strip()],
    }


def catalog_columns_check(columns: list[str]) -> None:
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise CatalogError(f"Missing columns: {', '.join(missing)}. Expected: {', '.join(REQUIRED_COLUMNS)}.")


def catalog_parse(*, csv_text: str) -> list[dict[str, Any]]:
    """A catalog file read whole: the first row in error refuses the file."""
    reader = csv.DictReader(io.StringIO(csv_text))
    catalog_columns_check(list(reader.fieldnames or []))
    rows, seen = [], set()
    for number, raw in enumerate(reader, start=2):
        row = catalog_row_read(raw, row=number)
        if row["sku"] in seen:
            raise CatalogError(f"Row {number}: sku '{row['sku']}' appears twice.")
        seen.add(row["sku"])
        rows.append(row)
    if not rows:
        raise CatalogError("The catalog has no rows.")
    return rows


def _checksum(rows: list[dict[str, Any]]) -> str:
    canonical = "\n".join(repr(sorted((k, str(v)) for k, v in row.items())) for row in rows)
    return hashlib.sha256(canonical.encode()).hexdigest()


def catalog_import(*, tenant: Tenant, csv_text: str, source: str) -> dict[str, Any]:
    """Import a catalog; the same content as the current version changes nothing."""
    return catalog_rows_save(tenant=tenant, rows=catalog_parse(csv_text=csv_text), source=source)


def catalog_rows_save(*, tenant: Tenant, rows: list[dict[str, Any]], source: str) -> dict[str, Any]:
    """Rows already read become the current catalog version, unless they are the current one."""
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
