"""Benchmark: importing a price list sheet of many rows through gspread, from the Sheets sandbox.

    .venv/bin/python bench/sheet_import.py [--rows 10000] [--rounds 3]

Each round writes a price list of `--rows` products (every demo catalog row repeated under new
SKUs, one row in 500 malformed) into the sandbox (scripts/sandbox/sheets.py, in this process, on
a local port), and times:
- the sync's price list import (`price_list_pull`: the sheet read through gspread and
  google-auth, each row checked, the status column written back, a new catalog version saved),
  with a price changed before each round so each makes a new version;
- the baseline, in the same command: the same rows imported from a CSV text by the catalog
  import (`catalog_import`, no HTTP, the first malformed row refusing the file, so the malformed
  rows are left out of it).
Reports rows per second of both, their ratio, and the requests the sync made, against the
Sheets API's quota of 60 requests a minute per user. Uses the configured database (migrated
here); the tenant it makes, `bench-sheets`, is emptied first. Not a test.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bmc.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402


def _rows(count: int, round_: int) -> list[list[str]]:
    demo = list(csv.reader(io.StringIO(settings.DEMO_CATALOG_PATH.read_text(encoding="utf-8"))))
    header, body = demo[0], demo[1:]
    price = header.index("price_venta_usd")
    rows = [header]
    for n in range(count):
        row = list(body[n % len(body)])
        row[0] = f"{row[0]}_{n:05d}"
        row[price] = f"{float(row[price]) + round_ / 100:.2f}"
        if n % 500 == 499:
            row[header.index("thickness_mm")] = "cien"  # refused, alone
        rows.append(row)
    return rows


def _service_account(sandbox) -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return json.dumps(
        {
            "type": "service_account",
            "private_key": pem.decode(),
            "client_email": "bench@bmc-sandbox.iam.gserviceaccount.com",
            "token_uri": f"{sandbox.url}/token",
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)

    from agents.datasync.sheets import price_list_pull, sheets_client
    from agents.quotes.catalog import catalog_import
    from bmc.core.models import Tenant
    from bmc.quotes.models import CatalogVersion, Product
    from scripts.sandbox.sheets import SheetsSandbox

    tenant, _ = Tenant.objects.get_or_create(slug="bench-sheets", defaults={"name": "Bench sheets"})
    Product.objects.filter(tenant=tenant).delete()
    CatalogVersion.objects.filter(tenant=tenant).delete()
    sandbox = SheetsSandbox().start()
    settings.GOOGLE_SHEETS_CREDENTIALS = _service_account(sandbox)
    settings.SHEETS_API_URL = sandbox.url
    settings.SHEETS_PRICE_LIST_ID = "bench"
    settings.SYNC_MAX_REMOVAL_SHARE = 1.0

    sync_rates, csv_rates, calls = [], [], []
    for round_ in range(args.rounds):
        rows = _rows(args.rows, round_)
        sandbox.sheet_put("bench", settings.SHEETS_PRICE_LIST_TAB, rows)
        before = len(sandbox.requests)
        client = sheets_client()
        started = time.perf_counter()
        result = price_list_pull(tenant=tenant, client=client)
        sync_seconds = time.perf_counter() - started
        calls.append({"api": client.http_client.calls, "sandbox_saw": len(sandbox.requests) - before})
        assert result["detail"]["new_version"], result["detail"]
        good = [r for r in rows[1:] if r[rows[0].index("thickness_mm")] != "cien"]
        out = io.StringIO()
        csv.writer(out).writerows([rows[0], *good])
        Product.objects.filter(tenant=tenant).delete()
        CatalogVersion.objects.filter(tenant=tenant).delete()
        started = time.perf_counter()
        catalog_import(tenant=tenant, csv_text=out.getvalue(), source="bench csv")
        csv_seconds = time.perf_counter() - started
        sync_rates.append(args.rows / sync_seconds)
        csv_rates.append(len(good) / csv_seconds)
        print(
            f"round {round_ + 1}: sync {args.rows / sync_seconds:,.0f} rows/s ({sync_seconds:.2f} s, "
            f"{result['refused']} refused, {client.http_client.calls} API requests), "
            f"CSV import {len(good) / csv_seconds:,.0f} rows/s ({csv_seconds:.2f} s)"
        )
    sandbox.close()
    sync, base = statistics.median(sync_rates), statistics.median(csv_rates)
    print(
        json.dumps(
            {
                "rows": args.rows,
                "sync_rows_per_second_median": round(sync),
                "csv_import_rows_per_second_median": round(base),
                "ratio_sync_to_csv": round(sync / base, 2),
                "api_requests_per_import": calls[-1]["api"],
                "requests_the_sandbox_saw": calls[-1]["sandbox_saw"],
                "sheets_quota_per_minute": 60,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
