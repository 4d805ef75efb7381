"""Retention: what the system keeps only for a while, pruned once a day by age (RETENTION_*_DAYS,
0 keeps a kind forever), in batches of ids so that no statement locks a big table for long.

Only what nothing needs any more goes: a raw inbound body already read, a task record finished
(and not the work of a workflow step still open), an agents' message whose task is over, a
follow-up closed whose quote no longer waits for an answer, a document batch done with nothing
left to review, and the stored files no document points at any more. Quotes, orders, invoices,
payments, messages and customers are business records: never pruned here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from bmc.conversations.models import InboundPayload
from bmc.documents.models import Document, DocumentBatch, DocumentBlob
from bmc.jobs.models import AgentMessage, AgentTask
from bmc.quotes.models import Quote
from bmc.sales.models import FollowUp
from bmc.workflows.models import WorkflowStep

logger = logging.getLogger(__name__)

# A blob younger than this is kept even with no document: its upload's transaction may still be
# writing the document that points at it.
BLOB_GRACE = timedelta(days=1)


class Budget:
    """Stops a run between two batches once its time is up: the next day's run goes on from there."""

    def __init__(self, seconds: float | None) -> None:
        self.deadline = None if seconds is None else time.monotonic() + seconds
        self.exhausted = False

    def left(self) -> bool:
        if self.deadline is not None and time.monotonic() >= self.deadline:
            self.exhausted = True
        return not self.exhausted


def rows_delete_in_batches(*, queryset: QuerySet, batch_size: int, budget: Budget, dry_run: bool = False) -> int:
    """Delete the rows of `queryset` a batch of ids at a time, each batch its own short
    transaction, walking the ids upwards (the primary key's index) so rows kept are read once.
    The queryset's conditions are checked again in each batch's delete: a row that became needed
    meanwhile (a task sent again) is left alone. Dry run: count them."""
    if dry_run:
        return queryset.count()
    model = queryset.model
    deleted, last = 0, None
    while budget.left():
        page = queryset.order_by("pk")
        if last is not None:
            page = page.filter(pk__gt=last)
        ids = list(page.values_list("pk", flat=True)[:batch_size])
        if not ids:
            break
        last = ids[-1]
        with transaction.atomic():
            _, by_model = queryset.filter(pk__in=ids).delete()
        deleted += by_model.get(model._meta.label, 0)
    return deleted


def _cutoff(now: datetime, days: int) -> datetime | None:
    return now - timedelta(days=days) if days > 0 else None


def raw_payloads_prune(*, now: datetime, days: int, batch_size: int, budget: Budget, dry_run: bool = False) -> int:
    """Inbound bodies (and refused deliveries' audit rows) older than `days`, once read: one still
    `received` waits for its task and is kept."""
    cutoff = _cutoff(now, days)
    if cutoff is None:
        return 0
    rows = InboundPayload.objects.filter(received_at__lt=cutoff).exclude(outcome=InboundPayload.Outcome.RECEIVED)
    return rows_delete_in_batches(queryset=rows, batch_size=batch_size, budget=budget, dry_run=dry_run)


def agent_tasks_prune(*, now: datetime, days: int, batch_size: int, budget: Budget, dry_run: bool = False) -> int:
    """Task records final (completed, failed, cancelled, dead) and untouched for `days`, except the
    work of a workflow step still open: its run reads the task's outcome when it wakes."""
    cutoff = _cutoff(now, days)
    if cutoff is None:
        return 0
    step_open = WorkflowStep.objects.filter(agent_task=OuterRef("pk"), status__in=WorkflowStep.OPEN)
    rows = AgentTask.objects.filter(status__in=AgentTask.TERMINAL, updated_at__lt=cutoff).exclude(Exists(step_open))
    return rows_delete_in_batches(queryset=rows, batch_size=batch_size, budget=budget, dry_run=dry_run)


def agent_messages_prune(*, now: datetime, days: int, batch_size: int, budget: Budget, dry_run: bool = False) -> int:
    """Agents' messages older than `days`, unless their task is still under way."""
    cutoff = _cutoff(now, days)
    if cutoff is None:
        return 0
    task_active = AgentTask.objects.filter(pk=OuterRef("task_id")).exclude(status__in=AgentTask.TERMINAL)
    rows = AgentMessage.objects.filter(created_at__lt=cutoff).exclude(Exists(task_active))
    return rows_delete_in_batches(queryset=rows, batch_size=batch_size, budget=budget, dry_run=dry_run)


def followups_prune(*, now: datetime, days: int, batch_size: int, budget: Budget, dry_run: bool = False) -> int:
    """Follow-ups closed (sent, cancelled, skipped, failed) and due more than `days` ago, of quotes
    that no longer wait for an answer: a quote still `sent` could have its sequence scheduled again
    (one row per step keeps a step from being sent twice), so its rows stay."""
    cutoff = _cutoff(now, days)
    if cutoff is None:
        return 0
    rows = (
        FollowUp.objects.filter(due_at__lt=cutoff)
        .exclude(status__in=FollowUp.OPEN)
        .exclude(sent_at__gte=cutoff)
        .exclude(quote__status=Quote.Status.SENT)
    )
    return rows_delete_in_batches(queryset=rows, batch_size=batch_size, budget=budget, dry_run=dry_run)


def document_batches_prune(
    *, now: datetime, days: int, batch_size: int, budget: Budget, dry_run: bool = False
) -> dict[str, int]:
    """Document batches done more than `days` ago with no document still at work or waiting for a
    review: their documents (in batches), their corrections, then the batch; then the stored
    files no document points at any more."""
    cutoff = _cutoff(now, days)
    if cutoff is None:
        return {"document_batches": 0, "documents": 0, "document_blobs": 0}
    unsettled = Document.objects.filter(batch=OuterRef("pk")).filter(
        ~Q(status__in=Document.FINAL) | Q(review=Document.Review.PENDING)
    )
    batches = DocumentBatch.objects.filter(
        status=DocumentBatch.Status.DONE, created_at__lt=cutoff, finished_at__lt=cutoff
    ).exclude(Exists(unsettled))
    counts = {"document_batches": 0, "documents": 0}
    if dry_run:
        counts["document_batches"] = batches.count()
        counts["documents"] = Document.objects.filter(batch__in=batches).count()
    else:
        last = None
        while budget.left():
            page = batches.order_by("pk") if last is None else batches.order_by("pk").filter(pk__gt=last)
            batch_id = page.values_list("pk", flat=True).first()
            if batch_id is None:
                break
            last = batch_id
            counts["documents"] += rows_delete_in_batches(
                queryset=Document.objects.filter(batch_id=batch_id), batch_size=batch_size, budget=budget
            )
            if budget.left():  # its conditions checked again as it goes
                counts["document_batches"] += batches.filter(pk=batch_id).delete()[1].get(DocumentBatch._meta.label, 0)
    counts["document_blobs"] = document_blobs_prune(now=now, batch_size=batch_size, budget=budget, dry_run=dry_run)
    return counts


def document_blobs_prune(*, now: datetime, batch_size: int, budget: Budget, dry_run: bool = False) -> int:
    """Stored files no document points at (their batches pruned, or their customer's data
    erased), past a day's grace for an upload still being written."""
    referenced = Document.objects.filter(blob=OuterRef("pk"))
    rows = DocumentBlob.objects.filter(created_at__lt=now - BLOB_GRACE).exclude(Exists(referenced))
    return rows_delete_in_batches(queryset=rows, batch_size=batch_size, budget=budget, dry_run=dry_run)


def retention_run(
    *, now: datetime | None = None, dry_run: bool = False, max_seconds: float | None = None
) -> dict[str, Any]:
    """Every kind pruned by its RETENTION_*_DAYS; counts per kind (what would go, on a dry run),
    logged. `max_seconds`: stop between batches after this long (`complete` false)."""
    now = now or timezone.now()
    budget = Budget(max_seconds)
    common: dict[str, Any] = dict(now=now, batch_size=settings.RETENTION_BATCH_SIZE, budget=budget, dry_run=dry_run)
    kinds: list[tuple[str, Callable[..., int], int]] = [
        ("raw_payloads", raw_payloads_prune, settings.RETENTION_RAW_PAYLOAD_DAYS),
        ("agent_messages", agent_messages_prune, settings.RETENTION_AGENT_MESSAGE_DAYS),
        ("agent_tasks", agent_tasks_prune, settings.RETENTION_TASK_DAYS),
        ("followups", followups_prune, settings.RETENTION_FOLLOWUP_DAYS),
    ]
    counts: dict[str, Any] = {name: prune(days=days, **common) for name, prune, days in kinds}
    counts.update(document_batches_prune(days=settings.RETENTION_DOCUMENT_DAYS, **common))
    report = {"dry_run": dry_run, "complete": not budget.exhausted, "counts": counts}
    logger.info("retention: %s", "would prune" if dry_run else "pruned", extra=report)
    return report
