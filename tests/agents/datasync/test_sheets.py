"""Google Sheets through gspread, against the sandbox: the price list sheet becomes a catalog
version when it changed, refusing bad rows one by one in its status column; a sheet that would
empty the catalog waits for a person; quotes, orders, leads and collections land in the CRM
sheet once each, updated in place; the API's failures (429, 500, an expired token, a body cut
short) are retried, and a source that keeps failing stops being called."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from agents.datasync.http import Pacer
from agents.datasync.runs import sync_run_approve, sync_scan
from agents.staff import admin_place
from bmc.conversations.models import Conversation, Customer
from bmc.datasync.models import SyncLink, SyncRun, SyncSource
from bmc.quotes.models import CatalogVersion, Product, Quote
from bmc.sales.models import Invoice, StaffTask
from scripts.sandbox.http import Reply
from tests.agents.conversations.dialogue import say
from tests.agents.datasync.conftest import CRM, PRICE_LIST, sync_now

pytestmark = pytest.mark.django_db
REQUEST = "cuanto sale isodec 100 para un techo de 6 x 4,48 con flete a montevideo"


def price_column(sheet: list[list[str]], name: str) -> int:
    return sheet[0].index(name)


def sheet_set(sheets, sku: str, column: str, value: str) -> None:
    rows = sheets.sheet_rows(PRICE_LIST, "Precios")
    at = price_column(rows, column)
    for row in rows:
        if row[0] == sku:
            row[at] = value
    sheets.sheet_put(PRICE_LIST, "Precios", rows)


def current_price(sku: str) -> Decimal:
    return Product.objects.get(catalog_version__is_current=True, sku=sku).price_venta_usd


def test_the_sheet_as_it_is_changes_nothing_and_a_changed_price_is_quoted_after_the_next_run(sheets, tenant):
    first = sync_now(tenant, "sheets")
    assert (first.status, first.read, first.unchanged, first.created, first.updated, first.refused) == (
        "succeeded",
        35,
        35,
        0,
        0,
        0,
    )
    assert CatalogVersion.objects.filter(tenant=tenant).count() == 1  # the sheet is the demo catalog
    rows = sheets.sheet_rows(PRICE_LIST, "Precios")
    assert rows[0][-1] == "estado" and {row[-1] for row in rows[1:]} == {"OK"}

    again = sync_now(tenant, "sheets")  # nothing changed: nothing written, no version
    assert (again.unchanged, again.api_calls) == (35, 1)
    assert len(sheets.calls("POST", "values:batchUpdate")) == 1  # the status column, written once

    sheet_set(sheets, "ISODEC_EPS_100", "price_venta_usd", "52,30")  # typed the Uruguayan way
    changed = sync_now(tenant, "sheets")
    assert (changed.updated, changed.unchanged, changed.detail["price_list"]["catalog_version"]) == (1, 34, 2)
    assert current_price("ISODEC_EPS_100") == Decimal("52.30")

    conversation = Conversation.objects.create(
        tenant=tenant, customer=Customer.objects.create(tenant=tenant, phone="+59899111222")
    )
    quote = Quote.objects.get(pk=say(conversation, REQUEST).quotes[0])
    panel = quote.lines.get(sku="ISODEC_EPS_100")
    assert (quote.catalog_version.version, panel.unit_price) == (2, Decimal("52.30"))


def test_bad_rows_are_refused_one_by_one_in_the_status_column_and_the_rest_imported(sheets, tenant):
    sheet_set(sheets, "ISODEC_EPS_150", "price_venta_usd", "")  # a missing price
    sheet_set(sheets, "ISODEC_EPS_200", "thickness_mm", "doscientos")
    sheet_set(sheets, "ISODEC_EPS_250", "price_venta_usd", "80.00")  # a real change, imported
    rows = sheets.sheet_rows(PRICE_LIST, "Precios")
    duplicate = list(rows[1])
    duplicate[price_column(rows, "price_venta_usd")] = "99.00"
    sheets.sheet_put(PRICE_LIST, "Precios", rows + [duplicate])
    old_150 = current_price("ISODEC_EPS_150")

    run = sync_now(tenant, "sheets")
    assert run.status == "succeeded" and run.refused == 3 and run.updated == 1
    assert [(r["row"], r["sku"]) for r in run.refusals] == [
        (3, "ISODEC_EPS_150"),
        (4, "ISODEC_EPS_200"),
        (37, "ISODEC_EPS_100"),
    ]
    assert run.refusals[0]["reason"] == "Fila 3: falta 'price_venta_usd'"  # what staff read in the admin
    assert run.refusals[2]["reason"] == "Fila 37: el SKU 'ISODEC_EPS_100' ya está en la fila 2"
    status = {row[0] + f"@{n}": row[-1] for n, row in enumerate(sheets.sheet_rows(PRICE_LIST, "Precios"), start=1)}
    assert status["ISODEC_EPS_150@3"] == "Rechazada: falta 'price_venta_usd'"
    assert status["ISODEC_EPS_200@4"] == "Rechazada: 'thickness_mm' tiene que ser un número entero, dice 'doscientos'"
    assert status["ISODEC_EPS_100@37"] == "Rechazada: el SKU 'ISODEC_EPS_100' ya está en la fila 2"
    assert status["ISODEC_EPS_250@5"] == "OK"
    # the rest imported; a refused product keeps its current price instead of leaving the catalog
    assert current_price("ISODEC_EPS_250") == Decimal("80.00")
    assert current_price("ISODEC_EPS_150") == old_150
    assert current_price("ISODEC_EPS_100") == Decimal("47.50")  # the first row of the SKU, not the duplicate
    assert Product.objects.filter(catalog_version__is_current=True).count() == 35


def test_a_sheet_that_would_empty_the_catalog_waits_for_a_person(sheets, tenant, django_user_model):
    rows = sheets.sheet_rows(PRICE_LIST, "Precios")
    sheets.sheet_put(PRICE_LIST, "Precios", rows[:11])  # 10 of 35 products left
    run = sync_now(tenant, "sheets")
    assert run.status == "held"
    assert run.held["removed"] == sorted(row[0] for row in rows[11:]) and "25 de los 35 productos" in run.held["reason"]
    assert CatalogVersion.objects.get(tenant=tenant, is_current=True).version == 1  # nothing imported
    task = StaffTask.objects.get(kind="sync_held")
    assert task.title == "La lista de precios quitaría 25 productos: aprobá o corregí la planilla"
    assert task.detail == f"{run.held['reason']}\nAprobala en {admin_place(SyncRun)} > #{run.pk}."

    again = sync_now(tenant, "sheets")  # the next run holds it again: the earlier hold gives way, one staff task
    run.refresh_from_db()
    assert (again.status, run.status) == ("held", "failed")
    assert StaffTask.objects.filter(kind="sync_held").count() == 1

    sync_run_approve(run=again, user=django_user_model.objects.create_user("ana", is_staff=True))
    again.refresh_from_db()
    assert again.status == "succeeded" and again.detail["approved"]["catalog_version"] == 2
    assert Product.objects.filter(catalog_version__is_current=True).count() == 10
    with pytest.raises(ValueError, match="no retenida"):
        sync_run_approve(run=again, user=None)


def _records(tenant) -> Quote:
    customer = Customer.objects.create(tenant=tenant, phone="+59899111222", name="Ana Gómez", zone="MONTEVIDEO")
    conversation = Conversation.objects.create(tenant=tenant, customer=customer)
    quote = Quote.objects.get(pk=say(conversation, REQUEST).quotes[0])
    Invoice.objects.create(
        tenant=tenant,
        customer=customer,
        number="A-0001",
        amount=Decimal("1816.95"),
        issue_date=date(2026, 12, 1),
        due_date=date(2026, 12, 1) + timedelta(days=30),
    )
    return quote


def test_records_land_in_the_crm_sheet_once_each_and_are_updated_in_place(sheets, tenant, settings):
    settings.SHEETS_PRICE_LIST_ID = ""  # only the CRM, here
    settings.SYNC_CURSOR_OVERLAP = 0  # records are read by their updated_at alone
    quote = _records(tenant)
    run = sync_now(tenant, "sheets")
    assert run.status == "succeeded" and run.created == 3  # a quote, a lead, a collection
    quotes = sheets.sheet_rows(CRM, "Cotizaciones")
    assert quotes[0][:3] == ["ID", "Fecha", "Cliente"]
    assert [row[0] for row in quotes[1:]] == [quote.number]
    assert quotes[1][2:4] == ["Ana Gómez", "+59899111222"] and quotes[1][7] == str(float(quote.total))
    assert sheets.sheet_rows(CRM, "Cobranzas")[1][:4] == ["A-0001", "Ana Gómez", "+59899111222", "1816.95"]
    assert sheets.sheet_rows(CRM, "Leads")[1][4] == "Montevideo"

    writes = len(sheets.calls("POST"))
    assert sync_now(tenant, "sheets").created == 0 and len(sheets.calls("POST")) == writes  # repeated: nothing written

    # staff sort the tab and add a column of their own; the quote changes; its row is found by id
    other = Quote.objects.create(
        tenant=tenant, catalog_version=quote.catalog_version, subtotal=1, iva=0, total=1, valid_until=date(2027, 1, 1)
    )
    sync_now(tenant, "sheets")
    rows = sheets.sheet_rows(CRM, "Cotizaciones")
    rows = [rows[0] + ["Notas"]] + sorted(rows[1:], key=lambda r: r[0], reverse=True)
    rows[2] = rows[2] + ["llamar el lunes"]
    sheets.sheet_put(CRM, "Cotizaciones", rows)
    SyncLink.objects.filter(kind="quotes", local_id=quote.number).delete()  # even with its link lost
    # accepted and paid the way the agents do it: conditional UPDATEs, not save()
    Quote.objects.filter(pk=quote.pk).update(status="accepted")
    Invoice.objects.filter(number="A-0001").update(status="paid", amount_paid=Decimal("1816.95"))
    run = sync_now(tenant, "sheets")
    rows = sheets.sheet_rows(CRM, "Cotizaciones")
    assert [r[0] for r in rows[1:]] == [other.number, quote.number]  # no row appended twice
    assert rows[2][4] == "Aceptada" and rows[2][-1] == "llamar el lunes"  # staff's column kept
    assert sheets.sheet_rows(CRM, "Cobranzas")[1][4:5] == ["1816.95"] and run.updated == 2


def test_429_500_an_expired_token_and_a_body_cut_short_are_retried(sheets, tenant, settings):
    sheets.faults.extend(
        [
            Reply(429, {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED"}}, {"Retry-After": "0.2"}),
            Reply(500, {"error": {"code": 500}}),
            Reply(200, {"range": "Precios", "values": [["sku"] * 20]}, cut=True),
        ]
    )
    run = sync_now(tenant, "sheets")
    assert run.status == "succeeded" and run.unchanged == 35

    sheets.expire_tokens()  # Google's token expired: google-auth fetches another and asks again
    sheet_set(sheets, "ISODEC_EPS_100", "price_venta_usd", "50.00")
    tokens = len(sheets.calls("POST", "/token"))
    assert sync_now(tenant, "sheets").updated == 1 and len(sheets.calls("POST", "/token")) == tokens + 1

    settings.SYNC_RETRY_AFTER_MAX = 5  # a source that asks for more than a worker should wait fails the run
    sheets.faults.append(Reply(429, {"error": {"code": 429}}, {"Retry-After": "600"}))
    failed = sync_now(tenant, "sheets")
    assert failed.status == "failed" and "asked to wait 600 s" in failed.error


def test_a_source_that_keeps_failing_stops_being_called_until_its_circuit_closes(sheets, tenant, settings):
    settings.SYNC_BREAKER_FAILURES = 2
    settings.SYNC_HTTP_RETRIES = 1
    sheets.faults.extend([Reply(503, {"error": {"code": 503}})] * 4)
    assert [sync_now(tenant, "sheets").status for _ in range(2)] == ["failed", "failed"]
    source = SyncSource.objects.get(tenant=tenant, source="sheets")
    assert source.circuit_open and source.failures == 2 and "503" in source.last_error

    calls = len(sheets.requests)
    assert sync_scan()["skipped"] == ["sheets"] and not SyncRun.objects.filter(status="queued").exists()
    scheduled = sync_now(tenant, "sheets", trigger="schedule")  # one queued before the circuit opened
    assert scheduled.status == "failed" and scheduled.error.startswith("Circuito abierto hasta el ")
    assert len(sheets.requests) == calls  # the source was not called

    probe = sync_now(tenant, "sheets")  # a person's "run now" probes it: it answers, the circuit closes
    source.refresh_from_db()
    assert probe.status == "succeeded" and not source.circuit_open and source.failures == 0


def test_requests_are_paced_under_the_quota(monkeypatch):
    slept = []
    monkeypatch.setattr("agents.datasync.http.time.sleep", slept.append)
    pacer = Pacer(3)
    for _ in range(4):
        pacer.wait()
    assert len(slept) == 1 and 59 < slept[0] <= 60  # the fourth request waits out the minute


def test_an_append_whose_answer_was_lost_is_not_repeated_and_a_broken_price_list_does_not_stop_the_crm(sheets, tenant):
    _records(tenant)
    rows = sheets.sheet_rows(PRICE_LIST, "Precios")
    sheets.sheet_put(PRICE_LIST, "Precios", [["codigo", *rows[0][1:]], *rows[1:]])  # its header broken
    run = sync_now(tenant, "sheets")
    assert run.status == "failed" and run.error.startswith("price_list: CatalogError: Missing columns: sku")
    assert run.detail["quotes"]["created"] == 1  # the CRM sheet was written all the same
    assert CatalogVersion.objects.get(tenant=tenant, is_current=True).version == 1

    sheets.sheet_put(PRICE_LIST, "Precios", rows)
    Quote.objects.create(
        tenant=tenant,
        catalog_version=CatalogVersion.objects.get(tenant=tenant, is_current=True),
        subtotal=1,
        iva=0,
        total=1,
        valid_until=date(2027, 1, 1),
    )
    appends = len(sheets.calls("POST", ":append"))
    original = sheets.handle

    def append_then_fail(request):  # the append is made, and its answer is a 503
        reply = original(request)
        return Reply(503, {"error": {"code": 503}}) if request["path"].endswith(":append") else reply

    sheets.handle = append_then_fail
    failed = sync_now(tenant, "sheets")
    sheets.handle = original
    assert failed.status == "failed" and "not sent again" in failed.error
    assert len(sheets.calls("POST", ":append")) == appends + 1  # not sent twice
    assert sync_now(tenant, "sheets").status == "succeeded"
    ids = [row[0] for row in sheets.sheet_rows(CRM, "Cotizaciones")[1:]]
    assert len(ids) == len(set(ids)) == 2  # the next run found the row by its id


def test_a_hold_the_sheet_has_moved_past_cannot_be_approved(sheets, tenant, django_user_model):
    rows = sheets.sheet_rows(PRICE_LIST, "Precios")
    sheets.sheet_put(PRICE_LIST, "Precios", rows[:11])
    held = sync_now(tenant, "sheets")
    assert held.status == "held"
    sheets.sheet_put(PRICE_LIST, "Precios", rows)  # staff mend the sheet, and change a price
    sheet_set(sheets, "ISODEC_EPS_100", "price_venta_usd", "50.00")
    assert sync_now(tenant, "sheets").status == "succeeded"
    held.refresh_from_db()
    assert held.status == "failed" and "que importó la planilla" in held.error
    with pytest.raises(ValueError, match="no retenida"):
        sync_run_approve(run=held, user=None)
    SyncRun.objects.filter(pk=held.pk).update(status="held")  # even if it were still held
    with pytest.raises(ValueError, match="El catálogo cambió desde"):
        sync_run_approve(run=held, user=django_user_model.objects.create_user("ana"))
    assert Product.objects.filter(catalog_version__is_current=True).count() == 35


def test_an_oauth_authorized_user_works_as_well_as_a_service_account(sheets, tenant, settings, monkeypatch):
    import json

    # google-auth sends an authorized user's refresh to Google's own endpoint whatever the file
    # says (a file cannot send the refresh token elsewhere): here, Google's endpoint is the sandbox
    monkeypatch.setattr("google.oauth2.credentials._GOOGLE_OAUTH2_TOKEN_ENDPOINT", f"{sheets.url}/token")

    settings.GOOGLE_SHEETS_CREDENTIALS = json.dumps(
        {
            "type": "authorized_user",
            "client_id": "bmc-oauth-client",
            "client_secret": "secret",
            "refresh_token": "1//refresh",
            "token_uri": f"{sheets.url}/token",
        }
    )
    run = sync_now(tenant, "sheets")
    assert run.status == "succeeded" and run.unchanged == 35
    (grant,) = [r for r in sheets.calls("POST", "/token")]
    assert grant["form"]["grant_type"] == "refresh_token" and grant["form"]["refresh_token"] == "1//refresh"
