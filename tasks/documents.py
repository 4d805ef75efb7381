"""Tasks of the documents agent, consumed from the `documents` queue.

A batch is a chord: a header with one chain per document (ingest → text → classify → fields →
validate) and `crosscheck_batch` as its callback. A stage that meets a bad file fails that
document only (the chain goes on, passing it by); transient errors retry. A stage whose worker
process dies under it is sent again by the worker that saw it die (`retry_on_worker_lost`: a new
message carrying the rest of the chain and the chord, rather than the broker handing the old one
back), so the chord does not wait on a message the broker may not return; a file that kills its
worker three times fails alone. `watch_batches` finishes any batch whose chord still never fired.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded, WorkerLostError
from django.db import OperationalError, close_old_connections
from django.utils import timezone

from agents.documents.crosscheck import batch_crosscheck
from agents.documents.flow import batches_watch, document_worker_lost
from agents.documents.intake import DocumentError
from agents.documents.stages import (
    document_classify,
    document_extract_fields,
    document_extract_text,
    document_fail,
    document_ingest,
    document_validate,
)
from agents.documents.whatsapp import whatsapp_media_read
from bmc.documents.models import Document
from bmc.metrics import DOCUMENT_STAGES
from bmc.queues import Queue
from tasks.base import TRANSIENT_ERRORS, TrackedTask, agent_task, ping_task

logger = logging.getLogger(__name__)
ping = ping_task(Queue.DOCUMENTS)


class StageTask(TrackedTask):
    """A document's stage. When its pool process dies mid-task, the worker's main process sends
    the stage again (`retry_on_worker_lost`) and calls `on_retry` with the WorkerLostError: that
    loss is counted on the document, and the third one fails it instead of killing a fourth
    process."""

    stage = ""  # each stage task's own, from its decorator

    def on_retry(self, exc, task_id, args, kwargs, einfo):
        if isinstance(exc, WorkerLostError) and args:
            # in the worker's main process, whose connection may have gone stale since its last use
            close_old_connections()
            try:
                document_worker_lost(document_id=args[0], stage=self.stage)
            except Exception:  # the stage is sent again all the same; only the count is missed
                logger.exception("could not count a lost stage", extra={"document_id": args[0]})
        super().on_retry(exc, task_id, args, kwargs, einfo)


STAGE_OPTIONS = dict(
    base=StageTask,
    retry_on_worker_lost=True,
    default_retry_delay=1,  # the countdown of a stage sent again after its worker died
    track_records=False,  # state lives in the Document row
    # No monitoring events (received, started, succeeded) for each of a batch's thousands of
    # stages: the batch's progress page and API show them; Flower still sees the cross-check.
    send_events=False,
    ignore_result=True,  # the Document row has it; only a chain's last link reports to the chord
    soft_time_limit=60,
    time_limit=90,
    autoretry_for=(*TRANSIENT_ERRORS, OperationalError),
    # Retries count transient errors (at most TRANSIENT_RETRIES, see _run_stage) and lost worker
    # processes (at most MAX_WORKER_LOSSES) together: room for both.
    max_retries=6,
)
TRANSIENT_RETRIES = 3


def _run_stage(task, fn: Callable[..., None], document_id: int) -> int:
    """One stage of one document. Whatever this file does to the stage, only it fails: a bad
    file, a stage over its time, the last retry of a transient error, or a file that keeps
    killing its worker (see StageTask). A message the broker hands back (the whole worker gone, or
    stopped with stages reserved but not started) is simply run again: stages are idempotent."""
    stage, request = task.stage, task.request
    outcome = "failed"
    try:
        fn(document_id=document_id)
        outcome = "ok"
    except DocumentError as error:
        document_fail(document_id=document_id, stage=stage, reason=str(error))
    except SoftTimeLimitExceeded:
        document_fail(document_id=document_id, stage=stage, reason=f"{stage} took too long: over 60 s.")
    except (*TRANSIENT_ERRORS, OperationalError) as error:
        if request.retries >= TRANSIENT_RETRIES:
            document_fail(
                document_id=document_id,
                stage=stage,
                reason=f"{stage} failed after retries: {type(error).__name__}: {error}",
            )
            return document_id
        outcome = "retried"
        raise  # worth another try
    except Exception as error:  # a hostile or broken file must not take the batch with it
        logger.exception("document stage failed", extra={"document_id": document_id, "stage": stage})
        document_fail(document_id=document_id, stage=stage, reason=f"{stage} failed: {type(error).__name__}: {error}")
    finally:
        DOCUMENT_STAGES.labels(stage, outcome).inc()
    return document_id


@agent_task(Queue.DOCUMENTS, "tasks.documents.ingest", stage=Document.Stage.INGEST, **STAGE_OPTIONS)
def ingest(self, document_id: int) -> int:
    return _run_stage(self, document_ingest, document_id)


@agent_task(Queue.DOCUMENTS, "tasks.documents.extract_text", stage=Document.Stage.EXTRACT, **STAGE_OPTIONS)
def extract_text(self, document_id: int) -> int:
    return _run_stage(self, document_extract_text, document_id)


@agent_task(Queue.DOCUMENTS, "tasks.documents.classify", stage=Document.Stage.CLASSIFY, **STAGE_OPTIONS)
def classify(self, document_id: int) -> int:
    return _run_stage(self, document_classify, document_id)


@agent_task(Queue.DOCUMENTS, "tasks.documents.extract_fields", stage=Document.Stage.FIELDS, **STAGE_OPTIONS)
def extract_fields(self, document_id: int) -> int:
    return _run_stage(self, document_extract_fields, document_id)


@agent_task(
    Queue.DOCUMENTS,
    "tasks.documents.validate",
    stage=Document.Stage.VALIDATE,
    **{**STAGE_OPTIONS, "ignore_result": False},
)
# the chord counts these
def validate(self, document_id: int) -> int:
    return _run_stage(self, document_validate, document_id)


@agent_task(
    Queue.DOCUMENTS,
    "tasks.documents.crosscheck_batch",
    track_records=False,
    soft_time_limit=240,
    time_limit=300,
    max_retries=3,
    retry_on_worker_lost=True,
    default_retry_delay=1,
)
def crosscheck_batch(self, batch_id: int) -> dict[str, Any]:
    """The chord's callback: every document is done (or failed); check them together."""
    return batch_crosscheck(batch_id=batch_id)


@agent_task(Queue.DOCUMENTS, "tasks.documents.watch_batches", soft_time_limit=120, time_limit=150, max_retries=0)
def watch_batches(self) -> dict[str, Any]:
    """Beat: batches whose chord was lost with a worker are finished (agents.documents.flow)."""
    return batches_watch(now=timezone.now())


@agent_task(
    Queue.DOCUMENTS,
    "tasks.documents.whatsapp_media",
    track_records=False,
    soft_time_limit=60,
    time_limit=90,
    max_retries=5,
)
def whatsapp_media(self, message_id: int) -> dict[str, Any]:
    """A document or photo a customer sent on WhatsApp, fetched and read as a batch of one;
    WhatsApp not answering is tried again (autoretry) until the last try records it unread."""
    return whatsapp_media_read(message_id=message_id, last_try=self.request.retries >= self.max_retries)
