"""What tracing costs a request: POST /api/v1/messages with tracing off and on, in one process.

    .venv/bin/python bench/tracing.py [--requests 200] [--database-url postgres://...]

A fresh SQLite database under var/bench_tracing (or the PostgreSQL database given, migrated here:
only there are SQL statements traced), the embedded Redis (or REDIS_URL), the message posted
through Django's test client, no worker (the queue it fills is purged after). Rounds alternate off
and on, so drift of the machine falls on both. "on" is what production runs (every span through a
BatchSpanProcessor) with an exporter that drops the batches, so the figure is the process's own
work and not a collector's. Also the off path's own price: the checks a request and a task record
make (`trace_id_current`) against the uuid4 they make anyway. Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import timeit
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
VAR = ROOT / "var" / "bench_tracing"

from bench.inprocess import environment_running, system_prepare  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200, help="requests per mode, in 4 rounds each")
    parser.add_argument("--database-url", help="a PostgreSQL database to migrate and use (SQLite otherwise)")
    args = parser.parse_args()
    with environment_running(var=VAR):
        if args.database_url:
            os.environ["DATABASE_URL"] = args.database_url
        os.environ.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
        # the API key's tier would pace the requests (bmc/core/limits.py): not what is measured
        unlimited = {"requests_per_second": 1e6, "burst": 10**6, "messages_per_day": None}
        os.environ["TIER_LIMITS"] = json.dumps({"basic": unlimited})
        return run(key=system_prepare(key_name="bench-tracing"), requests=args.requests)


def run(*, key: str, requests: int) -> int:
    # after system_prepare: Django is set up
    import uuid

    from django.db import connections
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
    from rest_framework.test import APIClient

    from bmc.celery import app
    from bmc.tracing import trace_id_current, tracing_instrument, tracing_uninstrument

    class Dropped(SpanExporter):
        def export(self, spans):
            return SpanExportResult.SUCCESS

    off_check = min(timeit.repeat(trace_id_current, number=100_000, repeat=5)) / 100_000
    fresh_id = min(timeit.repeat(lambda: uuid.uuid4().hex, number=100_000, repeat=5)) / 100_000

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Dropped()))
    timings: dict[str, list[float]] = {"off": [], "on": []}
    sequence = 0
    for _ in range(4):
        for mode in ("off", "on"):
            if mode == "on":
                tracing_instrument(provider=provider)
            connections.close_all()  # the next connection is opened traced or not, as the mode is
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
            for _ in range(requests // 4):
                sequence += 1
                body = {
                    "channel": "n8n",
                    "from": f"+5989{sequence:07d}",
                    "text": "cuanto sale isodec 100 para un techo de 6 x 4,48",
                    "external_id": f"bench-tracing-{sequence}-{uuid.uuid4().hex[:6]}",
                    "sent_at": "2026-11-21T10:00:00-03:00",
                }
                started = time.perf_counter()
                response = client.post("/api/v1/messages", body, format="json")
                timings[mode].append(time.perf_counter() - started)
                assert response.status_code == 202, response.content
            if mode == "on":
                tracing_uninstrument()
    provider.shutdown()
    with app.connection_for_write() as connection:
        connection.default_channel.queue_purge("conversation")

    def line(mode: str) -> str:
        values = sorted(timings[mode])
        p50, p95 = statistics.median(values) * 1000, values[int(len(values) * 0.95)] * 1000
        return f"{mode:4} {len(values)} requests: p50 {p50:.2f} ms, p95 {p95:.2f} ms"

    print(f"database: {connections['default'].vendor}")
    print(line("off"))
    print(line("on"))
    off, on = statistics.median(timings["off"]), statistics.median(timings["on"])
    print(f"on costs {(on - off) * 1000:.2f} ms a request at the median ({(on / off - 1) * 100:.0f} %)")
    print(f"off: trace_id_current() {off_check * 1e9:.0f} ns a call; uuid4().hex {fresh_id * 1e9:.0f} ns")
    return 0


if __name__ == "__main__":
    sys.exit(main())
