"""Start the sandboxes of the APIs the data sync talks to, on this machine:

    .venv/bin/python -m scripts.sandbox            # Sheets on :8765
    set -a; . var/sandbox/sandbox.env; set +a; make run    # in another shell: the system uses them

The first start writes var/sandbox/: a service account key whose token endpoint is the sandbox's,
the price list sheet (the demo catalog) and an empty CRM sheet as folders of CSV files (edit a
price in var/sandbox/sheets/precios-bmc/Precios.csv and run the sync), and sandbox.env with the
settings that point the system at them. Ctrl-C stops them; the files stay."""

from __future__ import annotations

import argparse
import csv
import json
import os
import signal
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from scripts.sandbox.sheets import SheetsSandbox

ROOT = Path(__file__).resolve().parents[2]
PRICE_LIST, CRM = "precios-bmc", "crm-bmc"


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
    parser.add_argument("--sheets-port", type=int, default=int(os.environ.get("SANDBOX_SHEETS_PORT", 8765)))
    parser.add_argument("--folder", type=Path, default=ROOT / "var" / "sandbox")
    args = parser.parse_args()
    folder = args.folder.resolve()
    (folder / "sheets").mkdir(parents=True, exist_ok=True)

    sheets = SheetsSandbox(folder=folder / "sheets", host=args.host, port=args.sheets_port)
    if not (folder / "sheets" / PRICE_LIST).exists():
        demo = (ROOT / "data" / "catalog.csv").read_text(encoding="utf-8")
        sheets.sheet_put(PRICE_LIST, "Precios", list(csv.reader(demo.splitlines())))
    if not (folder / "sheets" / CRM).exists():
        sheets.sheet_put(CRM, "Hoja 1", [])
    key = _service_account(folder, f"{sheets.url}/token")
    settings = {
        "GOOGLE_SHEETS_CREDENTIALS": str(key),
        "SHEETS_API_URL": sheets.url,
        "SHEETS_PRICE_LIST_ID": PRICE_LIST,
        "SHEETS_CRM_ID": CRM,
    }
    env_file = folder / "sandbox.env"
    env_file.write_text("".join(f"{name}={value}\n" for name, value in settings.items()))
    sheets.start()
    print(f"Google Sheets sandbox on {sheets.url}: price list {folder / 'sheets' / PRICE_LIST}/Precios.csv")
    print(f"Settings for the system in {env_file}:")
    for name, value in settings.items():
        print(f"  {name}={value}")
    signal.sigwait({signal.SIGINT, signal.SIGTERM})
    sheets.close()


if __name__ == "__main__":
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    main()
