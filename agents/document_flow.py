"""How documents move: a batch stored and started (one chain of five stages per document, run in
parallel, the batch's cross-check after all), a stage's worker lost, stalled batches finished, a
customer's WhatsApp file read as a batch of one. The reading itself is agents.documents."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import F, Max, Q
from django.utils import timezone

from agents import documents as reading
from bmc.conversations.models import Message
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
    """Store a batch (agents.documents.batch_create's arguments) and start it once committed."""
    with transaction.atomic():
        batch = reading.batch_create(**kwargs)
        transaction.on_commit(lambda: batch_dispatch(batch.pk))
    return batch


def document_worker_lost(*, document_id: int, stage: str) -> None:
    """A worker process died while this document's stage ran. Counted on the document; past
    MAX_WORKER_LOSSES the document fails with the reason and its later stages pass it by."""
    with transaction.atomic():
        Document.objects.filter(pk=document_id).update(attempts=F("attempts") + 1)
        losses = Document.objects.filter(pk=document_id).values_list("attempts", flat=True).first() or 0
    if losses >= MAX_WORKER_LOSSES:
        reading.document_fail(
            document_id=document_id, stage=stage, reason=f"{stage} stopped its worker {losses} times: given up."
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
            reading.batch_crosscheck(batch_id=pk)
            finished.append(pk)
        except Exception:  # one broken batch must not keep the others waiting
            logger.exception("could not finish a stale batch", extra={"batch_id": pk})
            failed.append(pk)
    return {"finished": finished, "failed": failed}


def whatsapp_media_read(*, message_id: int, last_try: bool) -> dict[str, Any]:
    """A document or photo a customer sent on WhatsApp: fetched through the Cloud API and read as a
    batch of one (the payment-notice turn finds it as a receipt). Without credentials the document
    is recorded as not downloaded, for a person to ask for it. WhatsApp not answering raises
    ConnectionError (worth another try) unless it is the `last_try`."""
    message = Message.objects.select_related("conversation").get(pk=message_id)
    if Document.objects.filter(message=message).exists():
        return {"message_id": message_id, "already": True}
    facts = (message.raw_payload or {}).get("bmc") or {}
    kind = (message.raw_payload or {}).get("type", "document")
    filename = facts.get("filename") or f"whatsapp-{kind}-{message_id}"
    try:
        content = reading.whatsapp_media_fetch(media_id=facts.get("media_id") or "")
    except ConnectionError as error:
        if not last_try:
            raise
        error = reading.DocumentError(f"not downloaded: WhatsApp did not answer after retries ({error}).")
        return _media_not_read(message, filename, error)
    except reading.DocumentError as error:
        return _media_not_read(message, filename, error)
    batch = batch_submit(
        tenant=message.conversation.tenant,
        uploads=[reading.Upload(filename=filename, content=content)],
        source=DocumentBatch.Source.WHATSAPP,
        name=filename,
        message=message,
    )
    return {"message_id": message_id, "batch_id": batch.pk}


def _media_not_read(message, filename: str, error: Exception) -> dict[str, Any]:
    """The customer's file could not be fetched: recorded, for a person to ask for it again."""
    with transaction.atomic():
        batch = DocumentBatch.objects.create(
            tenant_id=message.tenant_id,
            source=DocumentBatch.Source.WHATSAPP,
            name=filename,
            total=1,
            status=DocumentBatch.Status.DONE,
            finished_at=timezone.now(),
        )
        Document.objects.create(
            tenant_id=message.tenant_id,
            batch=batch,
            filename=filename,
            sha256="",
            message=message,
            status=Document.Status.FAILED,
            error=str(error),
            review=Document.Review.PENDING,
            review_reason=f"could not be read: {error}",
        )
    return {"message_id": message.pk, "error": str(error)}
