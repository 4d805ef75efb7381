"""Start the sandboxes of the APIs the data sync talks to, on this machine:

    .venv/bin/python -m scripts.sandbox        # Sheets :8765, MercadoLibre :8766, Shopify :8767
    set -a; . var/sandbox/sandbox.env; set +a; make run    # in another shell: the system uses them

The first start writes var/sandbox/: a Google service account key whose token endpoint is the
sandbox's; the price list sheet (the demo catalog) and an empty CRM sheet as folders of CSV files
(edit a price in var/sandbox/sheets/precios-bmc/Precios.csv, and the next sync reads it); three
MercadoLibre listings; and sandbox.env with the settings that point the system at all of them.
What the sandboxes hold is kept in var/sandbox between starts. Ctrl-C stops them.

A buyer's question on MercadoLibre, and a paid Shopify order (its webhook sent to the system):

    curl -X POST localhost:8766/_sandbox/questions -d '{"item_id": "MLU100", "text": "de que colores viene?"}'
    curl -X POST localhost:8767/_sandbox/orders -d '{"sku": "ISODEC_EPS_100", "quantity": 3, "phone": "+59899555111"}'
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import signal
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from scripts.sandbox.mercadolibre import MercadoLibreSandbox
from scripts.sandbox.sheets import SheetsSandbox
from scripts.sandbox.shopify import ShopifySandbox

ROOT = Path(__file__).resolve().parents[2]
PRICE_LIST, CRM = "precios-bmc", "crm-bmc"
ML_LISTINGS = (("MLU100", "ISODEC_EPS_100"), ("MLU150", "ISODEC_EPS_150"), ("MLU200", "ISOROOF_3G_30"))


def _service_account(folder: Path, token_uri: str) -> Path:
    path = folder / "google-service-account.json"
    if path.exists():
        info = json.loads(path.read_text())
    else:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        info = {
            "type": "service_account",
            "project_id": "bmc-sandbox",
            "private_key_id": "sandbox",
            "private_key": pem,
            "client_email": "sync@bmc-sandbox.iam.gserviceaccount.com",
            "client_id": "1",
        }
    info["token_uri"] = token_uri
    path.write_text(json.dumps(info, indent=2))
    path.chmod(0o600)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("SANDBOX_PORT", 8765)), help="Sheets; +1, +2")
    parser.add_argument("--folder", type=Path, default=ROOT / "var" / "sandbox")
    parser.add_argument(
        "--webhooks",
        default=f"http://127.0.0.1:{os.environ.get('WEB_PORT', 8000)}/api/v1/webhooks/shopify",
        help="Where the Shopify sandbox delivers its webhooks",
    )
    args = parser.parse_args()
    folder = args.folder.resolve()
    (folder / "sheets").mkdir(parents=True, exist_ok=True)

    sheets = SheetsSandbox(folder=folder / "sheets", host=args.host, port=args.port)
    if not (folder / "sheets" / PRICE_LIST).exists():
        demo = (ROOT / "data" / "catalog.csv").read_text(encoding="utf-8")
        sheets.sheet_put(PRICE_LIST, "Precios", list(csv.reader(demo.splitlines())))
    if not (folder / "sheets" / CRM).exists():
        sheets.sheet_put(CRM, "Hoja 1", [])
    ml = MercadoLibreSandbox(host=args.host, port=args.port + 1, state_file=folder / "mercadolibre.json")
    if not ml.items:
        for item_id, sku in ML_LISTINGS:
            ml.item_put(item_id, sku=sku, price=1.0, quantity=1, title=f"Panel {sku}")
    refresh = next(iter(sorted(ml.refresh_tokens)), None) or ml.refresh_token_issue()
    ml.state_save()
    shop = ShopifySandbox(
        host=args.host, port=args.port + 2, state_file=folder / "shopify.json", webhook_url=args.webhooks
    )
    key = _service_account(folder, f"{sheets.url}/token")
    settings = {
        "GOOGLE_SHEETS_CREDENTIALS": str(key),
        "SHEETS_API_URL": sheets.url,
        "SHEETS_PRICE_LIST_ID": PRICE_LIST,
        "SHEETS_CRM_ID": CRM,
        "MERCADOLIBRE_API_URL": ml.url,
        "MERCADOLIBRE_CLIENT_ID": ml.client_id,
        "MERCADOLIBRE_CLIENT_SECRET": ml.client_secret,
        "MERCADOLIBRE_REFRESH_TOKEN": refresh,
        "SHOPIFY_SHOP": "bmc-sandbox.myshopify.com",
        "SHOPIFY_API_URL": shop.url,
        "SHOPIFY_ACCESS_TOKEN": shop.token,
        "SHOPIFY_WEBHOOK_SECRET": shop.secret,
    }
    env_file = folder / "sandbox.env"
    env_file.write_text("".join(f"{name}={value}\n" for name, value in settings.items()))
    for sandbox in (sheets, ml, shop):
        sandbox.start()
    print(f"Google Sheets on {sheets.url}: the price list is {folder / 'sheets' / PRICE_LIST / 'Precios.csv'}")
    print(f"MercadoLibre on {ml.url}: listings {', '.join(i for i, _ in ML_LISTINGS)}")
    print(f"Shopify on {shop.url}: webhooks to {args.webhooks}")
    print(f"The system's settings are in {env_file}: set -a; . {env_file}; set +a; make run")
    signal.sigwait({signal.SIGINT, signal.SIGTERM})
    for sandbox in (sheets, ml, shop):
        sandbox.close()


if __name__ == "__main__":
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    main()
