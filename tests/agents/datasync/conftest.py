"""The Sheets sandbox (scripts/sandbox/sheets.py) with the real gspread and google-auth pointed at
it: a service account whose key is made here, its token endpoint the sandbox's."""

from __future__ import annotations

import csv
import io
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings as django_settings

from agents.tenants import system_bootstrap
from scripts.sandbox.sheets import SheetsSandbox

PRICE_LIST = "precios-test"
CRM = "crm-test"


@pytest.fixture(scope="session")
def private_key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def demo_rows() -> list[list[str]]:
    return list(csv.reader(io.StringIO(django_settings.DEMO_CATALOG_PATH.read_text(encoding="utf-8"))))


@pytest.fixture
def sheets(settings, private_key_pem, tenant):
    sandbox = SheetsSandbox().start()
    settings.GOOGLE_SHEETS_CREDENTIALS = json.dumps(
        {
            "type": "service_account",
            "project_id": "bmc-test",
            "private_key_id": "test",
            "private_key": private_key_pem,
            "client_email": "sync@bmc-test.iam.gserviceaccount.com",
            "client_id": "1",
            "token_uri": f"{sandbox.url}/token",
        }
    )
    settings.SHEETS_API_URL = sandbox.url
    settings.SHEETS_PRICE_LIST_ID = PRICE_LIST
    settings.SHEETS_CRM_ID = CRM
    settings.SYNC_BACKOFF_SECONDS = 0.01
    system_bootstrap()  # the demo catalog is version 1
    sandbox.sheet_put(PRICE_LIST, "Precios", demo_rows())
    sandbox.sheet_put(CRM, "Hoja 1", [])
    yield sandbox
    sandbox.close()


@pytest.fixture
def ml(settings, tenant):
    from scripts.sandbox.mercadolibre import MercadoLibreSandbox

    sandbox = MercadoLibreSandbox().start()
    settings.MERCADOLIBRE_API_URL = sandbox.url
    settings.MERCADOLIBRE_CLIENT_ID = sandbox.client_id
    settings.MERCADOLIBRE_CLIENT_SECRET = sandbox.client_secret
    settings.MERCADOLIBRE_REFRESH_TOKEN = sandbox.refresh_token_issue()
    settings.SYNC_BACKOFF_SECONDS = 0.01
    system_bootstrap()  # the demo catalog and stock
    yield sandbox
    sandbox.close()


@pytest.fixture
def shop(settings, tenant):
    from scripts.sandbox.shopify import ShopifySandbox

    sandbox = ShopifySandbox().start()
    settings.SHOPIFY_SHOP = "bmc-sandbox.myshopify.com"
    settings.SHOPIFY_ACCESS_TOKEN = sandbox.token
    settings.SHOPIFY_WEBHOOK_SECRET = sandbox.secret
    settings.SHOPIFY_API_URL = sandbox.url
    settings.SYNC_BACKOFF_SECONDS = 0.01
    system_bootstrap()
    yield sandbox
    sandbox.close()


def sync_now(tenant, source: str, trigger: str = "api"):
    """A run of the source carried out here, as the data sync agent's task does it."""
    from agents.datasync.runs import sync_run_execute
    from bmc.datasync.models import SyncRun

    run = SyncRun.objects.create(tenant=tenant, source=source, trigger=trigger)
    sync_run_execute(tenant_id=tenant.pk, run_id=run.pk)
    run.refresh_from_db()
    return run


def available(sku: str) -> int:
    from bmc.inventory.models import StockLevel

    level = StockLevel.objects.get(sku=sku, warehouse__code="planta")
    return int(level.on_hand - level.reserved)
