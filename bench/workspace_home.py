"""The staff homes and the inbox with a busy history: how many SQL statements each page costs and
how long it takes, with N messages (default 100,000) in the database, beside the admin's own list
of those messages (Django's change list, 100 rows and a count) measured in the same run.

Seeds a fresh database (SQLite under var/bench-home, or DATABASE_URL's PostgreSQL, which it
empties first): N messages over N/20 conversations and customers, a quote for every fourth
conversation (a fifth of them accepted), follow-ups, overdue invoices, open staff tasks, all
spread over the last 60 days. Pages are rendered in process by Django's test client as a
logged-in superuser. Not a test.

    .venv/bin/python bench/workspace_home.py [--messages 100000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
VAR = ROOT / "var" / "bench-home"

PAGES = {
    "sales home": "/admin/",
    "operations home": "/admin/operaciones/",
    "inbox": "/admin/bandeja/",
    "inbox, needs a reply": "/admin/bandeja/?ver=reply",
    "inbox, words searched": "/admin/bandeja/?q=isodec+techo",
    "baseline: the admin's message list": "/admin/conversations/message/",
}


def setup() -> None:
    if not os.environ.get("DATABASE_URL"):
        shutil.rmtree(VAR, ignore_errors=True)
        VAR.mkdir(parents=True)
        os.environ["BMC_VAR_DIR"] = str(VAR)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bmc.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    if os.environ.get("DATABASE_URL"):
        call_command("flush", "--noinput", verbosity=0)
    call_command("migrate", verbosity=0)


def seed(messages: int) -> dict:
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from agents.tenants import system_bootstrap
    from bmc.conversations.models import Conversation, Customer, Message
    from bmc.quotes.models import CatalogVersion, Quote
    from bmc.sales.models import FollowUp, Invoice, StaffTask

    system_bootstrap()
    from bmc.core.models import Tenant

    tenant = Tenant.objects.get(slug="bmc")
    catalog = CatalogVersion.objects.filter(tenant=tenant).latest("id")
    # a history spread over 60 days, not all written now: created_at set here, not by auto_now_add
    for model in (Message, Quote):
        model._meta.get_field("created_at").auto_now_add = False
    rng = random.Random(7)
    now = timezone.now()
    count = max(1, messages // 20)
    started = time.perf_counter()
    customers = Customer.objects.bulk_create(
        Customer(tenant=tenant, phone=f"+598991{n:05d}", name=f"Cliente {n}") for n in range(count)
    )
    states = [Conversation.State.OPEN] * 6 + [Conversation.State.HANDOFF, Conversation.State.CLOSED]
    conversations = Conversation.objects.bulk_create(
        Conversation(
            tenant=tenant,
            customer=customer,
            state=rng.choice(states),
            last_message_at=now - timedelta(minutes=rng.randrange(60 * 24 * 60)),
        )
        for customer in customers
    )
    words = ["hola", "precio", "isodec", "techo", "pared", "flete", "Maldonado", "gracias", "150 mm", "cámara"]
    batch = []
    for n in range(messages):
        conversation = conversations[n % count]
        at = now - timedelta(minutes=rng.randrange(60 * 24 * 60))
        inbound = n % 2 == 0
        batch.append(
            Message(
                tenant=tenant,
                conversation=conversation,
                direction="in" if inbound else "out",
                channel="whatsapp",
                text=" ".join(rng.sample(words, 4)),
                delivery_status="received" if inbound else "delivered",
                processed_at=at + timedelta(seconds=rng.uniform(0.5, 8)) if inbound else None,
                created_at=at,
            )
        )
        if len(batch) == 5000:
            Message.objects.bulk_create(batch)
            batch = []
    Message.objects.bulk_create(batch)
    families = ["ISODEC_EPS", "ISODEC_PIR", "ISOROOF", "ISOPANEL", "ISOWALL"]
    zones = ["MONTEVIDEO", "CANELONES", "MALDONADO", "INTERIOR", None]
    quotes = Quote.objects.bulk_create(
        Quote(
            tenant=tenant,
            customer=conversation.customer,
            conversation=conversation,
            catalog_version=catalog,
            spec={"family": rng.choice(families), "thickness_mm": 100, "zone": rng.choice(zones)},
            status=rng.choice(["sent"] * 3 + ["accepted", "expired"]),
            subtotal=Decimal("1000.00"),
            iva=Decimal("220.00"),
            total=Decimal(rng.randrange(500, 20000)),
            valid_until=(now + timedelta(days=15)).date(),
            created_at=now - timedelta(minutes=rng.randrange(60 * 24 * 60)),
        )
        for conversation in conversations[::4]
    )
    FollowUp.objects.bulk_create(
        FollowUp(
            tenant=tenant,
            quote=quote,
            customer_id=quote.customer_id,
            step=step,
            due_at=now - timedelta(days=rng.randrange(60)),
            status="sent",
            sent_at=now - timedelta(days=rng.randrange(60)),
        )
        for quote in quotes
        for step in (1, 2)
    )
    Invoice.objects.bulk_create(
        Invoice(
            tenant=tenant,
            customer=customer,
            number=f"A-{n}",
            amount=Decimal("1500.00"),
            issue_date=(now - timedelta(days=50)).date(),
            due_date=(now - timedelta(days=rng.randrange(-20, 20))).date(),
        )
        for n, customer in enumerate(customers[::10])
    )
    StaffTask.objects.bulk_create(
        StaffTask(tenant=tenant, kind="handoff", title="Atender", dedupe_key=f"bench-{n}", conversation=conversation)
        for n, conversation in enumerate(conversations[::50])
    )
    get_user_model().objects.create_superuser("bench", "bench@example.com", "bench-clave-1")
    return {
        "messages": Message.objects.count(),
        "conversations": len(conversations),
        "quotes": len(quotes),
        "seed_s": round(time.perf_counter() - started, 1),
    }


def measure(repeat: int) -> dict:
    from django.contrib.auth import get_user_model
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.force_login(get_user_model().objects.get(username="bench"))
    figures = {}
    for name, url in PAGES.items():
        client.get(url)  # warm: templates, translations, the database's own caches
        times = []
        for _ in range(repeat):
            reset_queries()
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                response = client.get(url)
                times.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise SystemExit(f"{url}: {response.status_code}")
        figures[name] = {"queries": len(queries), "ms_p50": round(statistics.median(times), 1)}
    base = figures["baseline: the admin's message list"]["ms_p50"]
    for figure in figures.values():
        figure["x_baseline"] = round(figure["ms_p50"] / base, 2)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    setup()
    from django.db import connection

    seeded = seed(args.messages)
    figures = measure(args.repeat)
    print(json.dumps({"database": connection.vendor, **seeded, "pages": figures}, indent=2))
    for name, figure in figures.items():
        print(f"{name:38} {figure['queries']:3d} queries  {figure['ms_p50']:8.1f} ms  {figure['x_baseline']:5.2f}x")


if __name__ == "__main__":
    main()
