"""The OpenAPI schema tells the truth: schemathesis, with every check, against the real web process
(gunicorn on the test database and broker), with a bounded number of cases per operation. No server
error, no answer that breaks the schema (status codes, content types, bodies), no request the schema
forbids accepted, and no request it allows refused, but where schemathesis.toml says why no schema
can state the rule."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bmc.core.services import api_key_create
from tests.conftest import ROOT, web_server

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

# cases per operation: bounded so that the whole suite stays within 15 minutes here; a deeper run:
# SCHEMATHESIS_MAX_EXAMPLES=100 make test ARGS=tests/api/test_schema_conformance.py
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "15"))


def test_the_api_keeps_to_its_own_schema(tenant, tmp_path):
    from agents.tenants import system_bootstrap

    system_bootstrap()  # a catalog, so quotes can be priced
    key = api_key_create(tenant=tenant, name="schemathesis")[1]
    report = tmp_path / "schemathesis.json"
    with web_server(CHAT_PROCESS_WAIT="0.2") as port:
        run = subprocess.run(
            [
                str(Path(sys.executable).parent / "schemathesis"),
                "run",
                f"http://127.0.0.1:{port}/api/schema/",
                "--max-examples",
                str(MAX_EXAMPLES),
                "--seed",
                "20261202",
                "--workers",
                os.environ.get("SCHEMATHESIS_WORKERS", "2"),  # the web process has threads to spare
                "--generation-database",
                "none",
                "--header",
                f"Authorization: Bearer {key}",
                "--no-color",
                "--report",
                "json",
                "--report-json-path",
                str(report),
            ],
            cwd=ROOT,  # schemathesis.toml: all checks, and the few rules no schema can state
            capture_output=True,
            text=True,
            timeout=600,
        )
    (ROOT / "var" / "schemathesis.log").write_text(run.stdout + run.stderr)
    summary = json.loads(report.read_text())
    failures = summary["failures"]
    assert run.returncode == 0 and not failures and not summary["errors"], run.stdout[-6000:]
    assert summary["operations"]["tested"] >= 30  # every operation was tried
