"""Benchmark: a batch of text PDFs through the documents agent, beside a bare-Celery chord.

    .venv/bin/python bench/documents_batch.py [--documents 1000] [--batches 3] [--concurrency 2]

Starts what it needs (the embedded Redis and a fresh SQLite database under var/bench-documents
unless REDIS_URL / DATABASE_URL are set), a `documents` worker and a bare Celery worker with the
product's Celery settings (bench/baseline_app.py), both with the same concurrency, and reports:
- throughput: documents per second from submitting the batch to its chord's callback, for each of
  `--batches` batches of `--documents` generated invoices and receipts (tests/documents_corpus.py);
- baseline: a chord of as many no-op tasks on the bare worker, same broker, same command;
- memory: the documents worker's resident memory (main process and pool) after each batch, which
  should stay flat.
Not a test. Needs the development requirements (reportlab draws the PDFs).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.cpu import cpu_seconds, cpu_used, per_item_ms  # noqa: E402
from bench.message_pipeline import System  # noqa: E402


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children, in MB."""
    pids = [pid] + [
        int(p) for p in subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    ]
    total = 0
    for each in pids:
        try:
            for line in Path(f"/proc/{each}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            continue
    return round(total / 1024, 1)


def samples(count: int, seed: int):
    from tests import documents_corpus as corpus

    rng = random.Random(seed)
    made = []
    for i in range(count):
        if i % 4 == 3:
            made.append(
                corpus.receipt(
                    rng,
                    amount=Decimal(rng.randint(100, 9000)),
                    paid=date(2026, 11, 12),
                    reference=f"factura A-{seed}{i}",
                )
            )
        else:
            made.append(corpus.invoice(rng, seed * 100_000 + i, issued=date(2026, 11, 1) + timedelta(days=i % 20)))
    return made


def run(args) -> dict:
    with System(args.concurrency, var_name="bench-documents") as system:
        os.environ.update(REDIS_URL=system.env["REDIS_URL"], BMC_VAR_DIR=str(system.var))
        import redis
        from celery import chord

        from bench import baseline_app

        broker = redis.Redis.from_url(system.env["REDIS_URL"])
        system.worker("bench.baseline_app", baseline_app.QUEUE)
        started = time.perf_counter()
        chord(baseline_app.noop.si(i) for i in range(args.documents))(baseline_app.last_hop.si(time.time(), "chord"))
        while not broker.hexists(baseline_app.DONE_KEY, "chord"):
            time.sleep(0.05)
        baseline = args.documents / (time.perf_counter() - started)

        worker = system.worker("bmc", "documents")
        os.environ["DJANGO_SETTINGS_MODULE"] = "bmc.settings"
        import django

        django.setup()
        from agents.documents.flow import batch_submit
        from agents.documents.intake import Upload
        from bmc.core.models import Tenant
        from bmc.documents.models import DocumentBatch

        tenant = Tenant.objects.get(slug="bmc")
        runs = []
        parts = {worker.pid: "documents worker"}  # its main process and its pool, by /proc
        for number in range(args.batches):
            files = [Upload(s.filename, s.content) for s in samples(args.documents, seed=number + 1)]
            started, cpu_before = time.perf_counter(), cpu_seconds(parts)
            batch = batch_submit(tenant=tenant, uploads=files, source="api", name=f"bench {number}")
            while DocumentBatch.objects.get(pk=batch.pk).status != DocumentBatch.Status.DONE:
                if time.perf_counter() - started > 1800:
                    raise SystemExit("the batch did not finish within 30 minutes")
                time.sleep(0.2)
            elapsed = time.perf_counter() - started
            cpu = cpu_used(cpu_before, cpu_seconds(parts))
            summary = DocumentBatch.objects.get(pk=batch.pk).summary
            runs.append(
                {
                    "batch": number + 1,
                    "documents": args.documents,
                    "seconds": round(elapsed, 1),
                    "per_s": round(args.documents / elapsed, 1),
                    "worker_rss_mb": rss_mb(worker.pid),
                    "cpu_ms_per_document": per_item_ms(cpu, args.documents),
                    "by_status": summary.get("by_status"),
                }
            )
            print(json.dumps(runs[-1]), file=sys.stderr)
    return {
        "database": "postgresql" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "sqlite",
        "concurrency": args.concurrency,
        "baseline_chord_per_s": round(baseline, 1),
        "runs": runs,
        "ratio_to_baseline": round(runs[-1]["per_s"] / baseline, 3) if runs else None,
        "target_per_s": 20,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=1000)
    parser.add_argument("--batches", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=2)
    report = run(parser.parse_args())
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    shutil.which("pgrep") or sys.exit("pgrep is needed to read the worker's memory")
    sys.exit(main())
