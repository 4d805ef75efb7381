"""Document batches on a real worker: the chord finishes, even with a worker process killed in the
middle; a WhatsApp document is fetched from the Cloud API and read."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import random
import signal
import subprocess
import threading
from datetime import date
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from bmc.documents.models import Document, DocumentBatch
from tests import documents_corpus as corpus
from tests.api.test_whatsapp import FIXTURES
from tests.conftest import wait_for

pytestmark = pytest.mark.worker


def upload(api, samples) -> int:
    response = api.post(
        "/api/v1/documents/batches",
        {"files": [SimpleUploadedFile(s.filename, s.content) for s in samples]},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    return response.json()["id"]


def test_a_mixed_batch_finishes_on_a_worker_with_every_document_accounted_for(start_worker, api):
    start_worker(("documents",), concurrency=2)
    samples = corpus.corpus(seed=3, invoices=5) + [corpus.truncated_pdf(corpus.corpus(seed=4)[0].content)]
    samples.append(corpus.Sample("copia.pdf", samples[0].content, "invoice"))
    batch_id = upload(api, samples)
    wait_for(lambda: DocumentBatch.objects.get(pk=batch_id).status == "done", timeout=120)
    progress = api.get(f"/api/v1/documents/batches/{batch_id}").json()
    assert (progress["done"], progress["total"], progress["percent"]) == (10, 10, 100)
    statuses = {d["filename"]: d["status"] for d in progress["documents"]}
    assert statuses["cortado.pdf"] == "failed" and statuses["copia.pdf"] == "duplicate"
    assert sum(s == "done" for s in statuses.values()) == 8
    assert progress["summary"]["by_kind"] == {"invoice": 5, "payment_receipt": 2, "delivery_note": 1}


def _pool_children(worker) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(worker.process.pid)], capture_output=True, text=True).stdout.split()
    main = [int(pid) for pid in out]
    children = []
    for pid in main:  # the celery main process is a child of the launching python
        children += [
            int(c) for c in subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
        ]
    return children or main


def _kill_pool(worker) -> int:
    """SIGKILL the worker's pool processes; how many were there to kill (0 while the pool is being
    replaced: its processes come and go)."""
    killed = 0
    for pid in _pool_children(worker):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
            killed += 1
    return killed


def test_a_worker_process_killed_mid_batch_does_not_hang_the_chord(start_worker, api):
    worker = start_worker(("documents",), concurrency=2)
    rng = random.Random(5)
    samples = [corpus.invoice(rng, 3000 + i, issued=date(2026, 11, 10)) for i in range(40)]
    batch_id = upload(api, samples)
    for done in (3, 20):  # twice: no document can be lost three times, so none is given up
        wait_for(lambda n=done: Document.objects.filter(batch_id=batch_id, status="done").count() >= n, timeout=60)
        assert wait_for(lambda: _kill_pool(worker), timeout=10)  # mid-task: the worker sends those stages again
    # well inside the watchdog's 5 minutes (and no beat runs here): the chord itself finished it
    wait_for(lambda: DocumentBatch.objects.get(pk=batch_id).status == "done", timeout=120)
    documents = Document.objects.filter(batch_id=batch_id)
    assert documents.count() == 40 and not documents.exclude(status__in=Document.FINAL).exists()
    # the lost stages ran again; a kill can also land between tasks, or just after a stage
    # finished (its chord part is then counted by the main process): no loss count is promised here
    assert documents.filter(status="done").count() == 40


class FakeCloudApi:
    """Meta's media endpoints: GET /<media-id> gives a URL, GET that URL gives the bytes."""

    def __init__(self, content: bytes):
        fake = self
        self.requests: list[tuple[str, str]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                fake.requests.append((self.path, self.headers.get("Authorization", "")))
                if self.path.startswith("/media-file/"):
                    body, kind = content, "application/pdf"
                else:
                    body = json.dumps(
                        {"url": f"{fake.url}/media-file/1", "mime_type": "application/pdf", "file_size": len(content)}
                    ).encode()
                    kind = "application/json"
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_a_whatsapp_receipt_is_fetched_from_the_cloud_api_and_read(start_worker, client, tenant, monkeypatch):
    receipt = corpus.receipt(
        random.Random(2), amount=Decimal("1816.95"), paid=date(2026, 11, 12), reference="COT-000001"
    )
    fake = FakeCloudApi(receipt.content)
    env = {"WHATSAPP_TOKEN": "tok", "WHATSAPP_API_BASE": fake.url, "WHATSAPP_APP_SECRET": "secret"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    from django.conf import settings

    monkeypatch.setattr(settings, "WHATSAPP_APP_SECRET", "secret")
    try:
        start_worker(("documents",))
        body = (FIXTURES / "document_message.json").read_bytes()
        signature = "sha256=" + hmac.new(b"secret", body, hashlib.sha256).hexdigest()
        response = client.post(
            "/api/v1/webhooks/whatsapp", body, content_type="application/json", HTTP_X_HUB_SIGNATURE_256=signature
        )
        assert response.status_code == 200
        document = wait_for(lambda: Document.objects.filter(message__isnull=False, status="done").first(), timeout=60)
    finally:
        fake.close()
    assert document.kind == "payment_receipt" and document.fields["total"] == "1816.95"
    assert document.filename == "comprobante.pdf" and document.batch.source == "whatsapp"
    assert fake.requests[0] == ("/1289034567812345", "Bearer tok")
