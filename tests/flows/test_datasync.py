"""The data sync on a real worker: a run asked for over the API is carried out by the data sync
agent against the Sheets sandbox, and read back with its counts."""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings

from bmc.quotes.models import Product
from tests.agents.datasync.conftest import PRICE_LIST, private_key_pem, sheets  # noqa: F401 (fixtures)
from tests.conftest import wait_for

pytestmark = pytest.mark.worker


def test_a_price_changed_in_the_sheet_becomes_the_catalog_through_the_worker(api, sheets, monkeypatch, start_worker):  # noqa: F811
    for name in ("GOOGLE_SHEETS_CREDENTIALS", "SHEETS_API_URL", "SHEETS_PRICE_LIST_ID", "SHEETS_CRM_ID"):
        monkeypatch.setenv(name, getattr(django_settings, name))
    rows = sheets.sheet_rows(PRICE_LIST, "Precios")
    rows[1][rows[0].index("price_venta_usd")] = "51.25"
    rows[2][rows[0].index("thickness_mm")] = "x"
    sheets.sheet_put(PRICE_LIST, "Precios", rows)

    run = api.post("/api/v1/sync/sheets/run").json()
    start_worker(("datasync",))
    done = wait_for(lambda: (body := api.get(f"/api/v1/sync/runs/{run['id']}").json())["finished_at"] and body)
    assert done["status"] == "succeeded", done["error"]
    assert (done["read"], done["updated"], done["unchanged"], done["refused"]) == (35, 1, 33, 1)
    assert done["refusals"][0]["row"] == 3 and "thickness_mm" in done["refusals"][0]["reason"]
    assert done["api_calls"] == 2  # the sheet read once, its status column written once
    assert Product.objects.get(catalog_version__is_current=True, sku=rows[1][0]).price_venta_usd == 51.25
