"""Benchmark: claiming and dispatching due follow-ups, at growing backlogs.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench REDIS_URL=redis://127.0.0.1:6379/13 \\
        .venv/bin/python bench/followup_claim.py [--backlogs 1000,10000,100000] [--batch 500]

For each backlog size it writes that many due follow-ups (each of its own quote), then runs the
scan's work (`followups_submit_due`: SELECT ... FOR UPDATE SKIP LOCKED, the stop checks, the
task records, the publish to the `followup` queue) until none is left, and reports:
- the rate, follow-ups claimed and dispatched per second;
- SQL statements per follow-up (counted with a database execute wrapper), which must not grow
  with the backlog;
- the ratio against a baseline measured in the same command: a loop of no-op `delay()` calls
  publishing as many tasks to the same broker (the publish alone, no database).
Uses the configured database (migrated here; its follow-ups, quotes and task records are deleted
before each size) and purges the queues it fills. Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bmc.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402


def backlog_create(size: int) -> None:
    from agents.tenants import system_bootstrap
    from bmc.conversations.models import Conversation, Customer, Message
    from bmc.core.models import Tenant
    from bmc.jobs.models import AgentMessage, AgentTask
    from bmc.quotes.models import Quote
    from bmc.sales.models import FollowUp, FollowUpPolicy

    system_bootstrap()
    tenant = Tenant.objects.get(slug="bmc")
    FollowUpPolicy.objects.filter(tenant=tenant).update(quiet_start=None, quiet_end=None, quiet_weekdays=[])
    FollowUp.objects.all().delete()
    AgentMessage.objects.filter(intent="followup.send_followup").delete()
    AgentTask.objects.filter(task_type="followup.send_followup").delete()
    Message.objects.filter(raw_payload__has_key="followup_id").delete()
    customer, _ = Customer.objects.get_or_create(tenant=tenant, phone="+59880000001", defaults={"name": "Bench"})
    conversation = Conversation.objects.filter(customer=customer).first() or Conversation.objects.create(
        tenant=tenant, customer=customer
    )
    Message.objects.filter(conversation__customer=customer).delete()  # a customer who never answered
    Quote.objects.filter(customer=customer).delete()
    from bmc.quotes.models import CatalogVersion

    version = CatalogVersion.objects.get(tenant=tenant, is_current=True)
    sent_at = timezone.now() - timedelta(days=2)
    quotes = Quote.objects.bulk_create(
        (
            Quote(
                tenant=tenant,
                customer=customer,
                conversation=conversation,
                catalog_version=version,
                spec={"family": "ISODEC_EPS", "thickness_mm": 100},
                status=Quote.Status.SENT,
                subtotal=1489.30,
                iva=327.65,
                total=1816.95,
                valid_until=(sent_at + timedelta(days=10)).date(),
                sent_at=sent_at,
            )
            for _ in range(size)
        ),
        batch_size=5000,
    )
    FollowUp.objects.bulk_create(
        (
            FollowUp(
                tenant=tenant,
                quote=quote,
                customer=customer,
                conversation=conversation,
                step=1,
                due_at=sent_at + timedelta(hours=24),
            )
            for quote in quotes
        ),
        batch_size=5000,
    )


def measure(size: int, batch: int) -> dict:
    from agents.sales.followup import followups_submit_due

    statements = 0

    def count(execute, sql, params, many, context):
        nonlocal statements
        statements += 1
        return execute(sql, params, many, context)

    from bmc.sales.models import FollowUp

    dispatched = 0
    started = time.perf_counter()
    while True:
        with connection.execute_wrapper(count):
            done = followups_submit_due(now=timezone.now(), batch=batch, max_batches=1)
        dispatched += done
        if done < batch and not FollowUp.objects.filter(status=FollowUp.Status.SCHEDULED).exists():
            break
    elapsed = time.perf_counter() - started
    return {
        "backlog": size,
        "dispatched": dispatched,
        "seconds": round(elapsed, 2),
        "per_s": round(dispatched / elapsed, 1),
        "statements_per_followup": round(statements / max(dispatched, 1), 3),
    }


def baseline(size: int) -> float:
    """No-op delay() calls publishing `size` tasks to the same broker: the publish alone."""
    from bench.baseline_app import QUEUE, app, noop

    started = time.perf_counter()
    for i in range(size):
        noop.delay(i)
    rate = size / (time.perf_counter() - started)
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge(QUEUE)
    return rate


def queues_purge() -> None:
    from bmc.celery import app

    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge("followup")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backlogs", default="1000,10000,100000")
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    report = {"database": connection.vendor, "batch": args.batch, "runs": []}
    for size in (int(s) for s in args.backlogs.split(",")):
        backlog_create(size)
        queues_purge()
        run = measure(size, args.batch)
        queues_purge()
        base = baseline(size)
        run["baseline_delay_per_s"] = round(base, 1)
        run["ratio"] = round(run["per_s"] / base, 3)
        report["runs"].append(run)
        print(json.dumps(run), file=sys.stderr)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
