"""How documents move: a batch stored and started (one chain of five stages per document, run in
parallel, the batch's cross-check after all), a stage's worker lost, stalled batches finished.
The reading itself is the rest of agents.documents."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import F, Max, Q
from django.utils.translation import gettext

from agents.documents.crosscheck import batch_crosscheck
from agents.documents.intake import batch_create
from agents.documents.stages import document_fail
from bmc.documents.models import Document, DocumentBatch
from bmc.jobs.submit import chains_then

logger = logging.getLogger(__name__)

# The stages of one document, by their task names (tasks/documents.py), in order.
STAGES = (
    "tasks.documents.ingest",
    "tasks.documents.extract_text",
    "tasks.documents.classify",
    "tasks.documents.extract_fields",
    "tasks.documents.validate",
)
CROSSCHECK = "tasks.documents.crosscheck_batch"
# No document of the batch moved for this long: every stage ends within 90 s, so it is stalled
# (a chord lost with a worker) rather than busy.
BATCH_STALE = timedelta(minutes=5)
# The third loss still sends the stage again (within its retries), and that run passes the failed
# document by: the chain, and the chord, go on past a file that kills its worker.
MAX_WORKER_LOSSES = 3


def batch_dispatch(batch_id: int) -> None:
    """After the batch is committed: one chain per readable document, the cross-check after all."""
    ids = list(
        Document.objects.filter(batch_id=batch_id).exclude(status=Document.Status.FAILED).values_list("pk", flat=True)
    )
    chains_then(chains=[[(stage, (pk,)) for stage in STAGES] for pk in ids], callback=(CROSSCHECK, (batch_id,)))


def batch_submit(**kwargs: Any) -> DocumentBatch:
    """Store a batch (agents.documents.intake.batch_create's arguments) and start it once committed."""
    with transaction.atomic():
        batch = batch_create(**kwargs)
        transaction.on_commit(lambda: batch_dispatch(batch.pk))
    return batch


def document_worker_lost(*, document_id: int, stage: str) -> None:
    """A worker process died while this document's stage ran. Counted on the document; past
    MAX_WORKER_LOSSES the document fails with the reason and its later stages pass it by."""
    with transaction.atomic():
        Document.objects.filter(pk=document_id).update(attempts=F("attempts") + 1)
        losses = Document.objects.filter(pk=document_id).values_list("attempts", flat=True).first() or 0
    if losses >= MAX_WORKER_LOSSES:
        document_fail(
            document_id=document_id,
            stage=stage,
            reason=gettext("%(stage)s: it stopped its worker %(losses)s times, given up.")
            % {"stage": dict(Document.Stage.choices).get(stage, stage), "losses": losses},
        )


def batches_watch(*, now) -> dict[str, Any]:
    """A batch still running long after its start (its chord lost with a worker) is finished here,
    its stuck documents marked failed for a person to look at."""
    cutoff = now - BATCH_STALE
    running = DocumentBatch.objects.filter(status=DocumentBatch.Status.RUNNING, created_at__lt=cutoff)
    # stale: nothing in it moved for BATCH_STALE (a big batch still at work is left alone)
    stale = running.annotate(moved=Max("documents__updated_at")).filter(Q(moved__lt=cutoff) | Q(moved__isnull=True))
    finished, failed = [], []
    for pk in stale.values_list("pk", flat=True):
        try:
            batch_crosscheck(batch_id=pk)
            finished.append(pk)
        except Exception:  # one broken batch must not keep the others waiting
            logger.exception("could not finish a stale batch", extra={"batch_id": pk})
            failed.append(pk)
    return {"finished": finished, "failed": failed}
