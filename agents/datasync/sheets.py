"""Google Sheets through gspread: the price list sheet read into the catalog (in), and the CRM
sheet kept with one row per quote, order, lead and collection (out).

The price list: a header row naming the catalog's columns (`sku`, `kind`, ... `colors`, in any
order) and a status column `estado` the sync writes: "OK", or why the row was refused. A row that
does not validate is refused alone; a refused product already in the catalog keeps its current
values. The sheet wins every field of the catalog (docs/datasync.md).

The CRM sheet: one tab per kind of record, its id in column A. The system wins the columns it
writes; columns staff add to the right are never touched. Rows are found by their id on every run
(staff may sort the tab), so a record is updated in place and never appended twice."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import google.auth.exceptions
import requests
from django.conf import settings
from django.db.models import Model, QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext, gettext_noop
from google.oauth2 import credentials as user_credentials
from google.oauth2 import service_account
from gspread import Client
from gspread.exceptions import APIError
from gspread.http_client import HTTPClient
from gspread.utils import absolute_range_name, rowcol_to_a1

from agents.datasync.http import TRANSIENT, Pacer, SourceRefused, SourceUnavailable, request_with_retries
from agents.datasync.links import sync_links_save
from agents.quotes.catalog import CatalogError, catalog_columns_check, catalog_row_read, catalog_rows_save
from bmc.conversations.models import Customer
from bmc.core.models import Tenant
from bmc.datasync.models import Source, SyncLink
from bmc.orders.models import Order
from bmc.quotes.models import CatalogVersion, Product, Quote
from bmc.sales.models import Invoice

logger = logging.getLogger(__name__)
PUBLIC_API = "https://sheets.googleapis.com"
SCOPES = ["https://www.googleapis.com/auth/spreadsheets"]
TIMEOUT = 30
STATUS_COLUMN = "estado"
_COMMA_DECIMAL = re.compile(r"^-?\d+,\d+$")


class SheetsHTTPClient(HTTPClient):
    """gspread's HTTP client, sent to SHEETS_API_URL (the sandbox on this machine), paced to
    SHEETS_REQUESTS_PER_MINUTE, with 429/5xx and cut connections retried; counts its requests."""

    def __init__(self, auth: Any, session: requests.Session | None = None) -> None:
        super().__init__(auth, session)
        self.set_timeout(TIMEOUT)
        self.calls = 0
        self.pacer = Pacer(settings.SHEETS_REQUESTS_PER_MINUTE)

    def request(self, method: str, endpoint: str, *args: Any, **kwargs: Any) -> requests.Response:
        url = settings.SHEETS_API_URL.rstrip("/") + endpoint.removeprefix(PUBLIC_API)
        what = f"Google Sheets ({method.upper()} {url.split('/v4/', 1)[-1][:80]})"

        def send() -> requests.Response:
            self.calls += 1
            return self.session.request(method, url, *args, timeout=self.timeout, **kwargs)

        try:
            response = request_with_retries(
                send,
                what=what,
                pacer=self.pacer,
                transient=TRANSIENT + (google.auth.exceptions.TransportError,),
                # an append sent twice is two rows; a tab added twice is refused: both read first
                idempotent=not url.endswith((":append", ":batchUpdate")) or "/values:" in url,
            )
        except google.auth.exceptions.RefreshError as error:  # the token endpoint refused the credentials
            raise SourceRefused(f"Google refused the credentials of GOOGLE_SHEETS_CREDENTIALS: {error}") from error
        if not response.ok:
            raise SourceRefused(f"{what} refused: {APIError(response)}")
        return response


def sheets_credentials() -> Any:
    """GOOGLE_SHEETS_CREDENTIALS, the JSON (or the path of a JSON file) of a service account's key
    or of an OAuth authorized user (client id, secret and refresh token)."""
    text = settings.GOOGLE_SHEETS_CREDENTIALS.strip()
    if not text.startswith("{"):
        text = Path(text).read_text(encoding="utf-8")
    info = json.loads(text)
    if info.get("type") == "authorized_user":
        return user_credentials.Credentials.from_authorized_user_info(info, scopes=SCOPES)
    return service_account.Credentials.from_service_account_info(info, scopes=SCOPES)


def sheets_client() -> Client:
    return Client(auth=sheets_credentials(), http_client=SheetsHTTPClient)


def _values(client: Client, spreadsheet_id: str, a1: str) -> list[list[str]]:
    """A range's cells as text; numbers as the sheet holds them, not as its locale shows them."""
    try:
        answer = client.http_client.values_get(spreadsheet_id, a1, params={"valueRenderOption": "UNFORMATTED_VALUE"})
    except requests.exceptions.JSONDecodeError as error:  # a body cut short
        raise SourceUnavailable(f"Google Sheets sent a partial answer for {a1}: {error}") from error
    return [[_text(cell) for cell in row] for row in answer.get("values", [])]


def _text(cell: Any) -> str:
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return str(cell).strip()


# --- in: the price list ------------------------------------------------------------------------

# A refused row in staff's words, by CatalogError.code: the sheet's status column and the run's
# refusals say it (translated where it is written).
_REFUSALS = {
    "required": gettext_noop("'%(column)s' is missing"),
    "decimal": gettext_noop("'%(column)s' must be a number, it says '%(value)s'"),
    "negative": gettext_noop("'%(column)s' cannot be negative, it says '%(value)s'"),
    "whole": gettext_noop("'%(column)s' must be a whole number, it says '%(value)s'"),
    "kind": gettext_noop("'kind' must be one of %(kinds)s, it says '%(value)s'"),
    "duplicate": gettext_noop("the SKU '%(value)s' is already on row %(first)s"),
}


def _refusal_words(error: CatalogError, *, first: int | None = None) -> str | None:
    """Why the row was refused, for staff; None for a refusal without a code (its message says it)."""
    if error.code not in _REFUSALS:
        return None
    return gettext(_REFUSALS[error.code]) % {
        "column": error.column,
        "value": error.value,
        "kinds": ", ".join(sorted(Product.Kind.values)),
        "first": first,
    }


def _status_es(error: CatalogError, *, first: int | None = None) -> str:
    """The row's status column: refused, and why."""
    return gettext("Refused: %(reason)s") % {"reason": _refusal_words(error, first=first) or str(error)}


def _refusal_reason(error: CatalogError, *, row: int, first: int | None = None) -> str:
    """The run's refused row, as staff read it in the admin."""
    words = _refusal_words(error, first=first)
    return gettext("Row %(row)s: %(reason)s") % {"row": row, "reason": words} if words else str(error)


def _product_fields(product: Product) -> dict[str, Any]:
    return {
        "sku": product.sku,
        "kind": product.kind,
        "family": product.family,
        "name": product.name,
        "use": product.use,
        "thickness_mm": product.thickness_mm,
        "useful_width_m": product.useful_width_m,
        "max_span_m": product.max_span_m,
        "unit": product.unit,
        "piece_length_m": product.piece_length_m,
        "price_venta_usd": product.price_venta_usd,
        "price_web_usd": product.price_web_usd,
        "colors": product.colors,
    }


def _same(old: dict[str, Any], new: dict[str, Any]) -> bool:
    def norm(value: Any) -> Any:
        return value.normalize() if isinstance(value, Decimal) else value

    return all(norm(old[k]) == norm(new[k]) for k in new)


@dataclass
class PriceListRead:
    rows: list[dict[str, Any]]  # what validated, in the sheet's order
    raw: list[dict[str, Any]]  # the same rows as text, with their row numbers: what a held run keeps
    refusals: list[dict[str, Any]]
    statuses: list[str]  # one per data row, for the status column
    read: int


def price_list_read(values: list[list[str]]) -> PriceListRead:
    """The sheet's rows checked one by one: each either a product or a refusal with its row number."""
    if not values:
        raise CatalogError("The price list sheet is empty: its first row names the columns.")
    header = [cell.strip().lower() for cell in values[0]]
    catalog_columns_check(header)
    rows, raw_rows, refusals, statuses, first_row = [], [], [], [], {}
    read = 0
    for number, cells in enumerate(values[1:], start=2):
        raw = {
            column: (cell.replace(",", ".") if _COMMA_DECIMAL.match(cell) else cell)
            for column, cell in zip(header, cells, strict=False)
            if column and column != STATUS_COLUMN
        }
        if not any(raw.values()):
            statuses.append("")
            continue
        read += 1
        try:
            row = catalog_row_read(raw, row=number)
            if row["sku"] in first_row:
                raise CatalogError(
                    f"Row {number}: sku '{row['sku']}' is already on row {first_row[row['sku']]}.",
                    code="duplicate",
                    column="sku",
                    value=row["sku"],
                )
        except CatalogError as error:
            first = first_row.get(raw.get("sku", "").strip())
            refusals.append(
                {"row": number, "sku": raw.get("sku", ""), "reason": _refusal_reason(error, row=number, first=first)}
            )
            statuses.append(_status_es(error, first=first))
            continue
        first_row[row["sku"]] = number
        rows.append(row)
        raw_rows.append({"row": number, "values": raw})
        statuses.append("OK")
    return PriceListRead(rows=rows, raw=raw_rows, refusals=refusals, statuses=statuses, read=read)


def _status_write(client: Client, spreadsheet_id: str, tab: str, values: list[list[str]], statuses: list[str]) -> bool:
    """The status column brought up to date in one request; none when it already says it all."""
    header = [cell.strip().lower() for cell in values[0]]
    column = header.index(STATUS_COLUMN) if STATUS_COLUMN in header else len(header)
    current = [row[column] if len(row) > column else "" for row in values[1:]]
    if STATUS_COLUMN in header and current == statuses:
        return False
    top, bottom = rowcol_to_a1(1, column + 1), rowcol_to_a1(len(statuses) + 1, column + 1)
    client.http_client.values_batch_update(
        spreadsheet_id,
        {
            "valueInputOption": "RAW",
            "data": [
                {
                    "range": absolute_range_name(tab, f"{top}:{bottom}"),
                    "values": [[STATUS_COLUMN]] + [[s] for s in statuses],
                }
            ],
        },
    )
    return True


def price_list_pull(*, tenant: Tenant, client: Client) -> dict[str, Any]:
    """The price list sheet into the catalog: a new version only when something changed, held for
    approval when it would remove more than SYNC_MAX_REMOVAL_SHARE of the current products."""
    spreadsheet_id, tab = settings.SHEETS_PRICE_LIST_ID, settings.SHEETS_PRICE_LIST_TAB
    values = _values(client, spreadsheet_id, absolute_range_name(tab))
    sheet = price_list_read(values)
    statuses_written = _status_write(client, spreadsheet_id, tab, values, sheet.statuses)
    current_version = CatalogVersion.objects.filter(tenant=tenant, is_current=True).first()
    current = (
        {p.sku: _product_fields(p) for p in Product.objects.filter(catalog_version=current_version)}
        if current_version
        else {}
    )
    rows = list(sheet.rows)
    in_sheet = {row["sku"] for row in rows}
    # a refused row keeps its product as it is: a price typed wrong does not take a panel off sale
    kept = [r["sku"] for r in sheet.refusals if r["sku"] in current and r["sku"] not in in_sheet]
    rows += [current[sku] for sku in dict.fromkeys(kept)]
    counted = {row["sku"] for row in rows}
    removed = sorted(set(current) - counted)
    counts = {
        "read": sheet.read,
        "created": sum(1 for row in sheet.rows if row["sku"] not in current),
        "updated": sum(1 for row in sheet.rows if row["sku"] in current and not _same(current[row["sku"]], row)),
        "refused": len(sheet.refusals),
        "refusals": sheet.refusals,
    }
    counts["unchanged"] = sheet.read - counts["created"] - counts["updated"] - counts["refused"]
    detail = {"removed": len(removed), "kept_refused": len(kept), "status_column_written": statuses_written}
    if current and len(removed) / len(current) > settings.SYNC_MAX_REMOVAL_SHARE:
        share = len(removed) / len(current)
        return counts | {
            "detail": detail,
            "held": {
                "reason": gettext(
                    "The sheet would remove %(removed)s of the %(total)s products (%(share)s); more than "
                    "SYNC_MAX_REMOVAL_SHARE (%(limit)s) waits for a person's approval."
                )
                % {
                    "removed": len(removed),
                    "total": len(current),
                    "share": f"{share:.0%}",
                    "limit": f"{settings.SYNC_MAX_REMOVAL_SHARE:.0%}",
                },
                "removed": removed[:200],
                "rows": sheet.raw,
                "kept": kept,
                "catalog_version": current_version.version,  # approved only while it is still current
            },
        }
    if not rows:
        raise CatalogError("The price list sheet has no product that validates.")
    saved = catalog_rows_save(tenant=tenant, rows=rows, source=f"Google Sheets {spreadsheet_id} {tab}")
    return counts | {"detail": detail | {"catalog_version": saved["version"], "new_version": saved["created"]}}


def price_list_held_import(*, tenant: Tenant, held: dict[str, Any], source: str) -> dict[str, Any]:
    """A held price list, approved by a person: its rows (read again, as they were) become the
    catalog, with the refused products it kept."""
    rows = [catalog_row_read(r["values"], row=r["row"]) for r in held["rows"]]
    current_version = CatalogVersion.objects.filter(tenant=tenant, is_current=True).first()
    kept = Product.objects.filter(catalog_version=current_version, sku__in=held.get("kept", []))
    rows += [_product_fields(p) for p in kept]
    if not rows:
        raise CatalogError("The held price list has no product that validates.")
    return catalog_rows_save(tenant=tenant, rows=rows, source=source)


# --- out: the CRM sheet ------------------------------------------------------------------------


@dataclass(frozen=True)
class CrmTab:
    kind: str
    title: str
    headers: tuple[str, ...]
    records: Callable[[Tenant], QuerySet]
    row: Callable[[Model], list[Any]]


def _date(value: Any) -> str:
    if value is None:
        return ""
    if hasattr(value, "hour"):
        value = timezone.localtime(value)
        return value.strftime("%d/%m/%Y %H:%M")
    return value.strftime("%d/%m/%Y")


def _money(value: Decimal | None) -> float | str:
    return "" if value is None else float(value)


def _customer_cells(customer: Customer | None) -> list[str]:
    return [customer.name, customer.phone] if customer else ["", ""]


def _customer_id(customer: Customer) -> str:
    return f"CLI-{customer.pk:06d}"


CRM_TABS = (
    CrmTab(
        "quotes",
        "Cotizaciones",
        (
            "ID",
            "Fecha",
            "Cliente",
            "Teléfono",
            "Estado",
            "Subtotal",
            "IVA",
            "Total",
            "Moneda",
            "Válida hasta",
            "Actualizada",
        ),
        lambda tenant: Quote.objects.filter(tenant=tenant).select_related("customer"),
        lambda q: [
            q.number,
            _date(q.created_at),
            *_customer_cells(q.customer),
            q.get_status_display(),
            _money(q.subtotal),
            _money(q.iva),
            _money(q.total),
            q.currency,
            _date(q.valid_until),
            _date(q.updated_at),
        ],
    ),
    CrmTab(
        "orders",
        "Pedidos",
        ("ID", "Cotización", "Fecha", "Cliente", "Teléfono", "Estado", "Total", "Moneda", "Entrega", "Actualizado"),
        lambda tenant: Order.objects.filter(tenant=tenant).select_related("customer", "quote"),
        lambda o: [
            o.number,
            o.quote.number,
            _date(o.created_at),
            *_customer_cells(o.customer),
            o.get_status_display(),
            _money(o.total),
            o.currency,
            _date(o.delivery_date),
            _date(o.updated_at),
        ],
    ),
    CrmTab(
        "leads",
        "Leads",
        ("ID", "Nombre", "Teléfono", "Email", "Zona", "Alta", "Actualizado"),
        lambda tenant: Customer.objects.filter(tenant=tenant),
        lambda c: [
            _customer_id(c),
            c.name,
            c.phone,
            c.email,
            c.get_zone_display(),
            _date(c.created_at),
            _date(c.updated_at),
        ],
    ),
    CrmTab(
        "collections",
        "Cobranzas",
        ("ID", "Cliente", "Teléfono", "Monto", "Pagado", "Moneda", "Emitida", "Vence", "Estado", "Actualizada"),
        lambda tenant: Invoice.objects.filter(tenant=tenant).select_related("customer"),
        lambda i: [
            i.number,
            *_customer_cells(i.customer),
            _money(i.amount),
            _money(i.amount_paid),
            i.currency,
            _date(i.issue_date),
            _date(i.due_date),
            i.get_status_display(),
            _date(i.updated_at),
        ],
    ),
)


def _chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _tabs_ensure(client: Client, spreadsheet_id: str) -> None:
    """The CRM's tabs, added when missing (one request to look, one to add)."""
    metadata = client.http_client.fetch_sheet_metadata(spreadsheet_id)
    present = {sheet["properties"]["title"] for sheet in metadata.get("sheets", [])}
    missing = [tab.title for tab in CRM_TABS if tab.title not in present]
    if missing:
        client.http_client.batch_update(
            spreadsheet_id, {"requests": [{"addSheet": {"properties": {"title": title}}} for title in missing]}
        )


def _row_checksum(row: list[Any]) -> str:
    return hashlib.sha256(json.dumps(row, default=str).encode()).hexdigest()


def crm_tab_push(
    *, tenant: Tenant, client: Client, tab: CrmTab, since: str | None, tabs_ensure: Callable[[], None]
) -> dict[str, Any]:
    """The records of one kind changed since `since`, written to their rows (found by id in
    column A) or appended, in batches of SHEETS_BATCH_ROWS. A record whose row was written as it
    is now costs no request: its link keeps the checksum of what was written."""
    spreadsheet_id, batch = settings.SHEETS_CRM_ID, settings.SHEETS_BATCH_ROWS
    records = tab.records(tenant).order_by("updated_at", "pk")
    if since:
        # an overlap: a record changed in a transaction that committed after the last run read
        records = records.filter(
            updated_at__gt=datetime.fromisoformat(since) - timedelta(seconds=settings.SYNC_CURSOR_OVERLAP)
        )
    records = list(records)
    counts = {"read": len(records), "created": 0, "updated": 0, "unchanged": 0}
    if not records:
        return counts | {"cursor": since}
    cursor = records[-1].updated_at.isoformat()
    with translation.override(settings.LANGUAGE_CODE):
        rows = {row[0]: row for row in (tab.row(r) for r in records)}
    links = {
        link.local_id: link
        for link in SyncLink.objects.filter(tenant=tenant, source=Source.SHEETS, kind=tab.kind, local_id__in=rows)
    }
    changed = {key: row for key, row in rows.items() if key not in links or links[key].checksum != _row_checksum(row)}
    counts["unchanged"] = len(rows) - len(changed)
    if not changed:
        return counts | {"cursor": cursor}
    tabs_ensure()
    width = len(tab.headers)
    values = _values(client, spreadsheet_id, absolute_range_name(tab.title))
    at_row = {row[0]: number for number, row in enumerate(values, start=1) if row and number > 1}
    updates, appends = [], []
    if not values or values[0][:width] != list(tab.headers):
        updates.append({"range": absolute_range_name(tab.title, "A1"), "values": [list(tab.headers)]})
    for key, row in changed.items():
        number = at_row.get(key)
        if number is None:
            appends.append(row)
            counts["created"] += 1
            continue
        in_sheet = (values[number - 1] + [""] * width)[:width]
        if in_sheet == [_text(cell) for cell in row]:
            counts["unchanged"] += 1
        else:
            updates.append({"range": absolute_range_name(tab.title, f"A{number}"), "values": [row]})
            counts["updated"] += 1
    for part in _chunks(updates, batch):
        client.http_client.values_batch_update(spreadsheet_id, {"valueInputOption": "RAW", "data": part})
    for part in _chunks(appends, batch):
        client.http_client.values_append(
            spreadsheet_id,
            absolute_range_name(tab.title, "A1"),
            params={"valueInputOption": "RAW", "insertDataOption": "INSERT_ROWS"},
            body={"values": part},
        )
    sync_links_save(
        tenant=tenant, source=Source.SHEETS, kind=tab.kind, checksums={k: _row_checksum(r) for k, r in changed.items()}
    )
    return counts | {"cursor": cursor}


def crm_push(*, tenant: Tenant, client: Client, cursor: dict[str, Any]) -> dict[str, Any]:
    """Every CRM tab brought up to date; a run with nothing to write makes no request."""
    ensured: list[bool] = []

    def tabs_ensure() -> None:
        if not ensured:
            _tabs_ensure(client, settings.SHEETS_CRM_ID)
            ensured.append(True)

    parts = {}
    for tab in CRM_TABS:
        parts[tab.kind] = crm_tab_push(
            tenant=tenant, client=client, tab=tab, since=cursor.get(tab.kind), tabs_ensure=tabs_ensure
        )
        cursor[tab.kind] = parts[tab.kind].pop("cursor")
    return parts
