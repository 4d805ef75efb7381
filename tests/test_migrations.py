"""Migrations that change data run on a database holding rows of the schema before them."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = ("core", "0004_quote_decision_and_cancelled_messages")
AFTER = ("core", "0005_quote_option_once")


@pytest.fixture(scope="module", autouse=True)
def _latest_once_at_the_end(django_db_blocker):
    """Each test goes (back, or on) to the state before its migration and then through it; the
    database returns to the latest state once, when the module ends, not after each test: the
    tests follow the history in order, so each goes only a few migrations on (one trip back from
    the latest state instead of five: about a minute of the suite)."""
    yield
    with django_db_blocker.unblock():
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_alternatives_stored_before_the_option_key_keep_their_quotes():
    executor = MigrationExecutor(connection)
    executor.migrate([BEFORE])
    apps = executor.loader.project_state([BEFORE]).apps
    tenant = apps.get_model("core", "Tenant").objects.create(slug="old", name="Old")
    catalog = apps.get_model("core", "CatalogVersion").objects.create(
        tenant=tenant, version=1, source="demo", checksum="x", is_current=True
    )
    Quote = apps.get_model("core", "Quote")
    money = dict(subtotal=Decimal("1"), iva=Decimal("0.22"), total=Decimal("1.22"), valid_until=date(2026, 12, 1))
    for thickness in (100, 150):  # two alternatives of one group, and a plain quote
        Quote.objects.create(
            tenant=tenant, catalog_version=catalog, option_group="opt-7", spec={"thickness_mm": thickness}, **money
        )
    Quote.objects.create(tenant=tenant, catalog_version=catalog, **money)

    executor = MigrationExecutor(connection)
    executor.migrate([AFTER])  # the unique constraint holds for the old alternatives
    Quote = executor.loader.project_state([AFTER]).apps.get_model("core", "Quote")
    keys = dict(Quote.objects.values_list("pk", "option_key"))
    assert len(keys) == 3
    assert sorted(k for k in keys.values() if k) == sorted(f"before-{pk}" for pk, k in keys.items() if k)
    assert list(keys.values()).count("") == 1  # the plain quote has no key


@pytest.mark.django_db(transaction=True)
def test_messages_written_before_their_origin_field_keep_their_send_guard():
    """A follow-up or a reminder pending when the field came: its origin read from its payload, so
    outbound still checks it with its agent before it goes."""
    before, after = ("core", "0008_inbound_audit"), ("core", "0009_message_origin")
    executor = MigrationExecutor(connection)
    executor.migrate([before])
    apps = executor.loader.project_state([before]).apps
    tenant = apps.get_model("core", "Tenant").objects.create(slug="old", name="Old")
    customer = apps.get_model("core", "Customer").objects.create(tenant=tenant, phone="+59899100200")
    conversation = apps.get_model("core", "Conversation").objects.create(tenant=tenant, customer=customer)
    Message = apps.get_model("core", "Message")
    common = dict(tenant=tenant, conversation=conversation, direction="out", channel="log", text="x")
    Message.objects.create(raw_payload={"followup_id": 41, "template": {}}, idempotency_key="f", **common)
    Message.objects.create(raw_payload={"dunning_notice_id": 7}, idempotency_key="d", **common)
    Message.objects.create(raw_payload={"answers": [1, 1]}, idempotency_key="r", **common)

    executor = MigrationExecutor(connection)
    executor.migrate([after])
    Message = executor.loader.project_state([after]).apps.get_model("core", "Message")
    origins = dict(Message.objects.values_list("idempotency_key", "origin"))
    assert origins == {"f": "followup", "d": "dunning", "r": ""}
    assert dict(Message.objects.values_list("idempotency_key", "origin_id")) == {"f": 41, "d": 7, "r": None}


@pytest.mark.django_db(transaction=True)
def test_the_task_records_move_to_the_jobs_app_with_their_rows():
    """bmc.core's AgentTask and AgentMessage become bmc.jobs's, in Django's state only: the rows
    written before are read after, and the content types (with their permissions) follow."""
    before, after = ("core", "0009_message_origin"), ("jobs", "0001_initial")
    executor = MigrationExecutor(connection)
    executor.migrate([before, ("jobs", None)])
    apps = executor.loader.project_state([before]).apps
    tenant = apps.get_model("core", "Tenant").objects.create(slug="old", name="Old")
    task = apps.get_model("core", "AgentTask").objects.create(
        tenant=tenant, task_type="ping", agent="orchestrator", queue="orchestrator", trace_id="t", status="queued"
    )
    apps.get_model("core", "AgentMessage").objects.create(
        tenant=tenant,
        from_agent="api",
        to_agent="orchestrator",
        type="request",
        intent="ping",
        task=task,
        trace_id="t",
        span_id="s",
    )
    from django.contrib.contenttypes.models import ContentType

    ContentType.objects.filter(app_label="jobs").delete()  # as on an install before the move
    ContentType.objects.get_or_create(app_label="core", model="agenttask")

    executor = MigrationExecutor(connection)
    executor.migrate([after])
    apps = executor.loader.project_state([after]).apps
    moved = apps.get_model("jobs", "AgentTask").objects.get()
    assert (moved.task_id, moved.status) == (task.task_id, "queued")
    assert apps.get_model("jobs", "AgentMessage").objects.get().task_id == moved.pk
    labels = set(
        apps.get_model("contenttypes", "ContentType")
        .objects.filter(model="agenttask")
        .values_list("app_label", flat=True)
    )
    assert labels == {"jobs"}


@pytest.mark.django_db(transaction=True)
def test_quotes_and_the_catalog_move_to_their_app_with_their_rows():
    """bmc.core's catalog versions, products, quotes and lines become bmc.quotes's in Django's
    state only: a quote written before, with its line and its follow-up, is read after."""
    before, after = ("core", "0010_agent_records_moved_to_jobs"), ("core", "0012_quotes_moved_out_last")
    executor = MigrationExecutor(connection)
    executor.migrate([before, ("sales", "0002_staff_task_handoff"), ("quotes", None)])
    apps = executor.loader.project_state([before, ("sales", "0002_staff_task_handoff")]).apps
    tenant = apps.get_model("core", "Tenant").objects.create(slug="old", name="Old")
    customer = apps.get_model("core", "Customer").objects.create(tenant=tenant, phone="+59899100300")
    catalog = apps.get_model("core", "CatalogVersion").objects.create(
        tenant=tenant, version=1, source="demo", checksum="x", is_current=True
    )
    money = dict(subtotal=Decimal("1"), iva=Decimal("0.22"), total=Decimal("1.22"), valid_until=date(2026, 12, 1))
    quote = apps.get_model("core", "Quote").objects.create(
        tenant=tenant, customer=customer, catalog_version=catalog, **money
    )
    apps.get_model("core", "QuoteLine").objects.create(
        quote=quote, position=1, sku="X", description="x", unit="m2", quantity=1, unit_price=1, amount=1
    )
    apps.get_model("sales", "FollowUp").objects.create(
        tenant=tenant, quote=quote, customer=customer, due_at="2026-12-01T12:00:00Z"
    )

    executor = MigrationExecutor(connection)
    executor.migrate([after])
    apps = executor.loader.project_state([after]).apps
    moved = apps.get_model("quotes", "Quote").objects.get()
    assert (moved.pk, moved.total, moved.catalog_version.version) == (quote.pk, Decimal("1.22"), 1)
    assert moved.lines.get().sku == "X"
    assert apps.get_model("sales", "FollowUp").objects.get().quote_id == quote.pk


@pytest.mark.django_db(transaction=True)
def test_conversations_move_to_their_app_with_their_rows():
    """bmc.core's customers, conversations, messages and inbound payloads become
    bmc.conversations's in Django's state only: what was written before is read after, and the
    quotes, follow-ups and documents that point at them still do."""
    before = [
        ("core", "0012_quotes_moved_out_last"),
        ("quotes", "0001_initial"),
        ("sales", "0003_quotes_moved_to_their_app"),
    ]
    after = ("core", "0013_conversations_moved_out")
    executor = MigrationExecutor(connection)
    executor.migrate([*before, ("conversations", None)])
    apps = executor.loader.project_state(before).apps
    tenant = apps.get_model("core", "Tenant").objects.create(slug="old", name="Old")
    customer = apps.get_model("core", "Customer").objects.create(tenant=tenant, phone="+59899100400", name="Ana")
    conversation = apps.get_model("core", "Conversation").objects.create(tenant=tenant, customer=customer)
    message = apps.get_model("core", "Message").objects.create(
        tenant=tenant, conversation=conversation, direction="in", channel="n8n", text="hola"
    )
    catalog = apps.get_model("quotes", "CatalogVersion").objects.create(
        tenant=tenant, version=1, source="demo", checksum="x", is_current=True
    )
    money = dict(subtotal=Decimal("1"), iva=Decimal("0.22"), total=Decimal("1.22"), valid_until=date(2026, 12, 1))
    apps.get_model("quotes", "Quote").objects.create(
        tenant=tenant,
        customer=customer,
        conversation=conversation,
        source_message=message,
        catalog_version=catalog,
        **money,
    )

    executor = MigrationExecutor(connection)
    executor.migrate([after])
    apps = executor.loader.project_state([after]).apps
    moved = apps.get_model("conversations", "Message").objects.get()
    assert (moved.pk, moved.text, moved.conversation.customer.name) == (message.pk, "hola", "Ana")
    quote = apps.get_model("quotes", "Quote").objects.get()
    assert (quote.customer.phone, quote.conversation_id, quote.source_message_id) == (
        "+59899100400",
        conversation.pk,
        message.pk,
    )


@pytest.mark.django_db
def test_the_models_and_their_migrations_agree():
    """A model changed without its migration (a label included) is caught here, not on a server."""
    from django.core.management import call_command

    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


@pytest.mark.django_db
def test_label_migrations_change_no_table():
    """AlterLabels (bmc/core/labels.py) is for labels only: its migrations run no SQL."""
    from io import StringIO

    from django.core.management import call_command

    from bmc.core.labels import AlterLabels

    loader = MigrationExecutor(connection).loader
    labelled = [
        key
        for key, migration in loader.disk_migrations.items()
        if any(isinstance(operation, AlterLabels) for operation in migration.operations)
    ]
    assert len(labelled) >= 12
    for app_label, name in labelled:
        out = StringIO()
        call_command("sqlmigrate", app_label, name, stdout=out)
        statements = [line for line in out.getvalue().splitlines() if line and not line.startswith("--")]
        assert statements in ([], ["BEGIN;", "COMMIT;"]), (app_label, name, statements)
