"""The cheapest ingest one could build, for `bench/message_pipeline.py` to measure beside the
product's: a bare WSGI app (no middleware, no DRF, no API key) that stores the raw body as an
InboundPayload and publishes one task, and answers without ids. Not part of the product.

    gunicorn bench.ingest_floor:asgi_application -k uvicorn_worker.UvicornWorker

served as the product is (uvicorn, the WSGI app on a2wsgi's thread pool), so the two differ
only in what the request does.
"""

from __future__ import annotations

import json
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bmc.settings")

import django  # noqa: E402

django.setup()

from bmc.celery import app  # noqa: E402
from bmc.conversations.models import InboundPayload  # noqa: E402
from bmc.core.services import tenant_ensure  # noqa: E402

QUEUE = "bench_floor"  # nobody consumes it; the bench empties the broker afterwards
TENANT_ID = tenant_ensure().pk


def application(environ, start_response):
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    payload = InboundPayload.objects.create(tenant_id=TENANT_ID, source="n8n", body=body.decode())
    app.send_task("tasks.analytics.ping", args=[None], queue=QUEUE)
    answer = json.dumps({"payload_id": payload.pk}).encode()
    start_response("202 Accepted", [("Content-Type", "application/json"), ("Content-Length", str(len(answer)))])
    return [answer]


from a2wsgi import WSGIMiddleware  # noqa: E402
from django.conf import settings  # noqa: E402

asgi_application = WSGIMiddleware(application, workers=settings.WEB_THREADS)
