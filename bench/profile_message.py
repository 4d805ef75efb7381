"""Where one message's time goes, in process: the ingest request, the conversation turn and the
outbound send, each with its SQL statement count and its median time.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench REDIS_URL=redis://127.0.0.1:6379/13 \\
        .venv/bin/python bench/profile_message.py [--runs 100]

Uses the configured database (migrated here) and broker (tasks are published, nobody consumes
them: the queue is purged at the end). Not a test; figures go to docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bmc.settings")
os.environ.setdefault("LOG_LEVEL", "ERROR")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

TEXT = "cuanto sale isodec 100 para un techo de 6 x 4,48 con flete a montevideo"


def timed(fn, runs: int) -> tuple[float, int]:
    """Median milliseconds of `fn` over `runs` calls, and the statements of one call."""
    fn()  # warm: caches, connections
    statements = []
    # a wrapper, not CaptureQueriesContext: a request resets Django's query log when it starts
    with connection.execute_wrapper(lambda execute, sql, *rest: statements.append(sql) or execute(sql, *rest)):
        fn()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), len(statements)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=100)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)

    from django.utils import timezone

    from agents.conversations.inbound import inbound_message_accept
    from agents.conversations.turn import conversation_turn
    from agents.outbound import outbound_send
    from agents.tenants import system_bootstrap
    from bmc.celery import app
    from bmc.core.models import Tenant
    from bmc.core.services import api_key_create

    system_bootstrap()
    tenant = Tenant.objects.get(slug="bmc")
    Tenant.objects.filter(pk=tenant.pk).update(tier=Tenant.Tier.ENTERPRISE)  # the bench's pace, limits on
    _, key = api_key_create(tenant=tenant, name=f"profile-{uuid.uuid4().hex[:6]}")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    seed = int(time.time()) % 100_000 * 1000
    counter = iter(range(seed, seed + 10_000_000))

    def ingest():
        response = client.post(
            "/api/v1/messages",
            {
                "channel": "n8n",
                "from": f"+5987{next(counter):07d}",
                "external_id": uuid.uuid4().hex,
                "sent_at": timezone.now().isoformat(),
                "text": TEXT,
            },
            content_type="application/json",
        )
        assert response.status_code == 202, response.content

    def message():
        return inbound_message_accept(
            tenant=tenant,
            channel="n8n",
            phone=f"+5986{next(counter):07d}",
            text=TEXT,
            external_id=uuid.uuid4().hex,
            sent_at=timezone.now(),
            raw={},
        ).message

    pending = []

    def turn():
        inbound = message()
        result = conversation_turn(
            tenant_id=inbound.tenant_id, conversation_id=inbound.conversation_id, public_base_url="http://x"
        )
        pending.extend(result.replies)

    def send():
        outbound_send(tenant_id=tenant.pk, message_id=pending.pop())

    report = {"database": connection.vendor}
    for name, fn in (("ingest_request", ingest), ("conversation_turn", turn), ("outbound_send", send)):
        if name == "outbound_send":
            # one reply per run, made ahead so only the send is timed
            for _ in range(args.runs + 2):
                turn()
        ms, statements = timed(fn, args.runs)
        report[name] = {"median_ms": round(ms, 2), "statements": statements}
    report["note"] = "turn includes storing its inbound message (3-6 statements)"
    ms, _ = timed(lambda: app.send_task("tasks.analytics.ping", args=[None], queue="bench_profile"), args.runs)
    report["celery_send_task_ms"] = round(ms, 2)
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge("bench_profile")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
