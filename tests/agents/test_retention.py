"""Retention: what is older than its age goes, in batches; what is young, or still needed, stays."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agents.retention import retention_run
from agents.tenants import system_bootstrap
from bmc.conversations.models import Conversation, Customer, InboundPayload
from bmc.documents.models import Document, DocumentBatch, DocumentBlob
from bmc.jobs.models import AgentMessage, AgentTask
from bmc.quotes.models import CatalogVersion, Quote
from bmc.sales.models import FollowUp
from bmc.workflows.models import WorkflowDefinition, WorkflowRun, WorkflowStep
from tasks.orchestrator import prune_data

pytestmark = pytest.mark.django_db

NOW = timezone.now()
OLD = NOW - timedelta(days=400)  # past every default age
YOUNG = NOW - timedelta(days=2)  # within every default age


def aged(model, at, **fields):
    """A row as if written at `at` (the auto_now fields set after the fact)."""
    row = model.objects.create(**fields)
    stamps = {
        f.name: at for f in model._meta.concrete_fields if getattr(f, "auto_now_add", False) or f.name == "updated_at"
    }
    model.objects.filter(pk=row.pk).update(**stamps)
    return row


def payload(tenant, at, outcome="accepted"):
    return aged(InboundPayload, at, tenant=tenant, source="whatsapp", body="{}", outcome=outcome)


def task(tenant, at, status="completed"):
    return aged(
        AgentTask, at, tenant=tenant, task_type="conversation.process_message", agent="conversation",
        queue="conversation", status=status, trace_id="t",
    )  # fmt: skip


def agent_message(tenant, at, task=None):
    return aged(
        AgentMessage, at, tenant=tenant, from_agent="api", to_agent="conversation", type="request",
        intent="conversation.process_message", task=task, trace_id="t", span_id="s",
    )  # fmt: skip


def quote(tenant, customer, status):
    return Quote.objects.create(
        tenant=tenant, customer=customer, catalog_version=CatalogVersion.objects.filter(tenant=tenant).first(),
        status=status, subtotal=Decimal("100"), iva=Decimal("22"), total=Decimal("122"), valid_until=date(2026, 1, 1),
    )  # fmt: skip


def followup(tenant, quote, step, status, at):
    return FollowUp.objects.create(
        tenant=tenant, quote=quote, customer=quote.customer, step=step, status=status, due_at=at,
        sent_at=at if status == FollowUp.Status.SENT else None,
    )  # fmt: skip


def blob(content: bytes) -> DocumentBlob:
    return aged(DocumentBlob, OLD, sha256=hashlib.sha256(content).hexdigest(), content=content, size=len(content))


def batch(tenant, at, documents, status="done"):
    """A batch finished at `at`, with documents given as (blob, review)."""
    made = aged(DocumentBatch, at, tenant=tenant, status=status, total=len(documents))
    DocumentBatch.objects.filter(pk=made.pk).update(finished_at=at)
    for content, review in documents:
        aged(
            Document, at, tenant=tenant, batch=made, filename="f.pdf", blob=content, sha256=content.sha256,
            status="done", review=review,
        )  # fmt: skip
    return made


@pytest.fixture
def records(tenant):
    system_bootstrap()
    customer = Customer.objects.create(tenant=tenant, phone="+59899111222", name="Ana")
    Conversation.objects.create(tenant=tenant, customer=customer)
    rows = {
        "payload_old": payload(tenant, OLD),
        "payload_unread": payload(tenant, OLD, outcome="received"),  # its task has not read it
        "payload_young": payload(tenant, YOUNG),
        "task_old": task(tenant, OLD),
        "task_running": task(tenant, OLD, status="running"),
        "task_of_open_step": task(tenant, OLD),
        "task_young": task(tenant, YOUNG),
    }
    definition = WorkflowDefinition.objects.create(tenant=tenant, name="wf", version=1, spec={})
    run = WorkflowRun.objects.create(tenant=tenant, definition=definition, status="waiting")
    WorkflowStep.objects.create(
        tenant=tenant, run=run, name="ask", kind="task", status="waiting", agent_task=rows["task_of_open_step"]
    )
    rows |= {
        "message_old": agent_message(tenant, OLD, rows["task_old"]),
        "message_of_running_task": agent_message(tenant, OLD, rows["task_running"]),
        "message_young": agent_message(tenant, YOUNG),
    }
    expired = quote(tenant, customer, Quote.Status.EXPIRED)
    waiting = quote(tenant, customer, Quote.Status.SENT)
    rows |= {
        "followup_sent_old": followup(tenant, expired, 1, FollowUp.Status.SENT, OLD),
        "followup_cancelled_old": followup(tenant, expired, 2, FollowUp.Status.CANCELLED, OLD),
        "followup_scheduled": followup(tenant, expired, 3, FollowUp.Status.SCHEDULED, OLD),
        "followup_sent_young": followup(tenant, expired, 4, FollowUp.Status.SENT, YOUNG),
        "followup_of_waiting_quote": followup(tenant, waiting, 1, FollowUp.Status.SENT, OLD),
    }
    only_old, shared, in_review, young = blob(b"old"), blob(b"shared"), blob(b"review"), blob(b"young")
    rows |= {
        "batch_old": batch(tenant, OLD, [(only_old, "approved"), (shared, "not_needed")]),
        "batch_in_review": batch(tenant, OLD, [(in_review, "pending"), (shared, "approved")]),
        "batch_running": batch(tenant, OLD, [], status="running"),
        "batch_young": batch(tenant, YOUNG, [(young, "not_needed")]),
        "blob_only_old": only_old,
        "blob_shared": shared,
    }
    return rows


def exists(row) -> bool:
    return type(row).objects.filter(pk=row.pk).exists()


def test_what_is_old_goes_and_what_is_young_or_still_needed_stays(records):
    dry = retention_run(now=NOW, dry_run=True)
    counts = {
        "raw_payloads": 1, "agent_messages": 1, "agent_tasks": 1, "followups": 2,
        "document_batches": 1, "documents": 2, "document_blobs": 0,
    }  # fmt: skip
    assert dry == {"dry_run": True, "complete": True, "counts": counts}
    assert all(exists(row) for row in records.values())  # a dry run deletes nothing

    report = retention_run(now=NOW)

    gone = {"payload_old", "task_old", "message_old", "followup_sent_old", "followup_cancelled_old", "batch_old"}
    gone |= {"blob_only_old"}  # no document has its bytes any more
    assert {name for name, row in records.items() if not exists(row)} == gone
    assert report["counts"] == {**counts, "document_blobs": 1}
    # the batch's documents went with it; the bytes another batch still has stay
    assert Document.objects.filter(batch=records["batch_in_review"]).count() == 2

    assert retention_run(now=NOW)["counts"] == dict.fromkeys(counts, 0)  # nothing twice


def test_an_age_of_zero_keeps_a_kind_forever(records, settings):
    settings.RETENTION_RAW_PAYLOAD_DAYS = 0
    settings.RETENTION_DOCUMENT_DAYS = 0
    counts = retention_run(now=NOW)["counts"]
    assert counts["raw_payloads"] == 0 and counts["document_batches"] == 0
    assert exists(records["payload_old"]) and exists(records["batch_old"])
    assert counts["agent_tasks"] == 1


def test_many_rows_are_deleted_a_batch_at_a_time(tenant, settings):
    settings.RETENTION_BATCH_SIZE = 7
    for _ in range(25):
        payload(tenant, OLD)
    young = payload(tenant, YOUNG)
    with CaptureQueriesContext(connection) as queries:
        report = retention_run(now=NOW)
    deletes = [q["sql"] for q in queries if q["sql"].startswith('DELETE FROM "core_inboundpayload"')]
    assert len(deletes) == 4  # 7 + 7 + 7 + 4, each its own statement
    assert report["counts"]["raw_payloads"] == 25
    assert list(InboundPayload.objects.values_list("pk", flat=True)) == [young.pk]


def test_a_run_out_of_time_stops_between_batches_and_says_so(tenant):
    payload(tenant, OLD)
    report = retention_run(now=NOW, max_seconds=0)
    assert report["complete"] is False and report["counts"]["raw_payloads"] == 0
    assert InboundPayload.objects.count() == 1


def test_the_command_and_the_daily_task(tenant, capsys):
    payload(tenant, OLD)
    call_command("prune_data", "--dry-run")
    assert "raw_payloads: 1 would delete" in capsys.readouterr().out
    assert InboundPayload.objects.count() == 1
    call_command("prune_data")
    assert "raw_payloads: 1 deleted" in capsys.readouterr().out
    assert InboundPayload.objects.count() == 0

    payload(tenant, OLD)
    assert prune_data.run()["counts"]["raw_payloads"] == 1  # the body, as a worker runs it
    entry = settings.CELERY_BEAT_SCHEDULE["retention-prune-daily"]
    assert entry["task"] == prune_data.name and entry["options"]["expires"] <= 24 * 3600
