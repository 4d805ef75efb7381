"""Tasks of the documents agent, consumed from the `documents` queue.

A batch is a chord: a header with one chain per document (ingest → text → classify → fields →
validate) and `crosscheck_batch` as its callback. A stage that meets a bad file fails that
document only (the chain goes on, passing it by); transient errors retry; a worker lost
mid-task hands its message back (acks late), and `watch_batches` finishes any batch whose chord
never fired.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from celery import chain, chord
from celery.exceptions import SoftTimeLimitExceeded
from django.db import OperationalError, transaction
from django.db.models import Max, Q
from django.utils import timezone

from agents import documents as agent
from bmc.documents.models import Document, DocumentBatch
from bmc.queues import Queue
from tasks.base import TRANSIENT_ERRORS, agent_task, ping_task

logger = logging.getLogger(__name__)
ping = ping_task(Queue.DOCUMENTS)
STAGE_OPTIONS = dict(
    track_records=False,  # state lives in the Document row
    ignore_result=True,  # the Document row has it; only a chain's last link reports to the chord
    soft_time_limit=60,
    time_limit=90,
    autoretry_for=(*TRANSIENT_ERRORS, OperationalError),
    max_retries=3,
)
# No document of the batch moved for this long: every stage ends within 90 s, so it is stalled
# (a chord lost with a worker) rather than busy.
BATCH_STALE = timedelta(minutes=5)


MAX_REDELIVERIES = 2


def _run_stage(stage: str, fn: Callable[..., None], document_id: int, task=None) -> int:
    """One stage of one document. Whatever this file does to the stage, only it fails: a bad
    file, a stage over its time, the last retry of a transient error, or a file that keeps
    killing its worker (redelivered more than twice)."""
    request = getattr(task, "request", None)
    if request is not None and (request.delivery_info or {}).get("redelivered"):
        attempts = Document.objects.filter(pk=document_id).values_list("attempts", flat=True).first() or 0
        Document.objects.filter(pk=document_id).update(attempts=attempts + 1)
        if attempts + 1 > MAX_REDELIVERIES:
            agent.document_fail(
                document_id=document_id,
                stage=stage,
                reason=f"{stage} stopped its worker {attempts + 1} times: given up.",
            )
            return document_id
    try:
        fn(document_id=document_id)
    except agent.DocumentError as error:
        agent.document_fail(document_id=document_id, stage=stage, reason=str(error))
    except SoftTimeLimitExceeded:
        agent.document_fail(document_id=document_id, stage=stage, reason=f"{stage} took too long: over 60 s.")
    except (*TRANSIENT_ERRORS, OperationalError) as error:
        if request is not None and request.retries >= STAGE_OPTIONS["max_retries"]:
            agent.document_fail(
                document_id=document_id,
                stage=stage,
                reason=f"{stage} failed after retries: {type(error).__name__}: {error}",
            )
            return document_id
        raise  # worth another try
    except Exception as error:  # a hostile or broken file must not take the batch with it
        logger.exception("document stage failed", extra={"document_id": document_id, "stage": stage})
        agent.document_fail(
            document_id=document_id, stage=stage, reason=f"{stage} failed: {type(error).__name__}: {error}"
        )
    return document_id


@agent_task(Queue.DOCUMENTS, **STAGE_OPTIONS)
def ingest(self, document_id: int) -> int:
    return _run_stage(Document.Stage.INGEST, agent.document_ingest, document_id, self)


@agent_task(Queue.DOCUMENTS, **STAGE_OPTIONS)
def extract_text(self, document_id: int) -> int:
    return _run_stage(Document.Stage.EXTRACT, agent.document_extract_text, document_id, self)


@agent_task(Queue.DOCUMENTS, **STAGE_OPTIONS)
def classify(self, document_id: int) -> int:
    return _run_stage(Document.Stage.CLASSIFY, agent.document_classify, document_id, self)


@agent_task(Queue.DOCUMENTS, **STAGE_OPTIONS)
def extract_fields(self, document_id: int) -> int:
    return _run_stage(Document.Stage.FIELDS, agent.document_extract_fields, document_id, self)


@agent_task(Queue.DOCUMENTS, **{**STAGE_OPTIONS, "ignore_result": False})  # the chord counts these
def validate(self, document_id: int) -> int:
    return _run_stage(Document.Stage.VALIDATE, agent.document_validate, document_id, self)


@agent_task(Queue.DOCUMENTS, track_records=False, soft_time_limit=240, time_limit=300, max_retries=3)
def crosscheck_batch(self, batch_id: int) -> dict[str, Any]:
    """The chord's callback: every document is done (or failed); check them together."""
    return agent.batch_crosscheck(batch_id=batch_id)


def document_chain(document_id: int):
    return chain(
        ingest.si(document_id),
        extract_text.si(document_id),
        classify.si(document_id),
        extract_fields.si(document_id),
        validate.si(document_id),
    )


def batch_dispatch(batch_id: int) -> None:
    """After the batch is committed: one chain per readable document, the cross-check after all."""
    ids = list(
        Document.objects.filter(batch_id=batch_id).exclude(status=Document.Status.FAILED).values_list("pk", flat=True)
    )
    callback = crosscheck_batch.si(batch_id)
    if not ids:
        callback.apply_async()
        return
    chord([document_chain(pk) for pk in ids])(callback)


def batch_submit(**kwargs: Any) -> DocumentBatch:
    """Store a batch (agents.documents.batch_create's arguments) and start it once committed."""
    with transaction.atomic():
        batch = agent.batch_create(**kwargs)
        transaction.on_commit(lambda: batch_dispatch(batch.pk))
    return batch


@agent_task(Queue.DOCUMENTS, soft_time_limit=120, time_limit=150, max_retries=0)
def watch_batches(self) -> dict[str, Any]:
    """Beat: a batch still running long after its start (its chord lost with a worker) is
    finished here, its stuck documents marked failed for a person to look at."""
    cutoff = timezone.now() - BATCH_STALE
    running = DocumentBatch.objects.filter(status=DocumentBatch.Status.RUNNING, created_at__lt=cutoff)
    # stale: nothing in it moved for BATCH_STALE (a big batch still at work is left alone)
    stale = running.annotate(moved=Max("documents__updated_at")).filter(Q(moved__lt=cutoff) | Q(moved__isnull=True))
    finished, failed = [], []
    for pk in stale.values_list("pk", flat=True):
        try:
            agent.batch_crosscheck(batch_id=pk)
            finished.append(pk)
        except Exception:  # one broken batch must not keep the others waiting
            logger.exception("could not finish a stale batch", extra={"batch_id": pk})
            failed.append(pk)
    return {"finished": finished, "failed": failed}


@agent_task(Queue.DOCUMENTS, track_records=False, soft_time_limit=60, time_limit=90, max_retries=5)
def whatsapp_media(self, message_id: int) -> dict[str, Any]:
    """A document or photo a customer sent on WhatsApp: fetched through the Cloud API and read as a
    batch of one (the payment-notice turn finds it as a receipt). Without credentials the document
    is recorded as not downloaded, for a person to ask for it."""
    from bmc.core.models import Message

    message = Message.objects.select_related("conversation").get(pk=message_id)
    if Document.objects.filter(message=message).exists():
        return {"message_id": message_id, "already": True}
    facts = (message.raw_payload or {}).get("bmc") or {}
    kind = (message.raw_payload or {}).get("type", "document")
    filename = facts.get("filename") or f"whatsapp-{kind}-{message_id}"
    try:
        content = agent.whatsapp_media_fetch(media_id=facts.get("media_id") or "")
    except ConnectionError as error:
        if self.request.retries < self.max_retries:
            raise  # WhatsApp busy or unreachable: try again later
        error = agent.DocumentError(f"not downloaded: WhatsApp did not answer after retries ({error}).")
        return _media_not_read(message, filename, error)
    except agent.DocumentError as error:
        return _media_not_read(message, filename, error)
    batch = batch_submit(
        tenant=message.conversation.tenant,
        uploads=[agent.Upload(filename=filename, content=content)],
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
