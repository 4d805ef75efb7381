"""A chord does not wait forever for a header task whose pool process died just after storing its
result: the worker's main process counts the part (Celery alone acknowledges it as done and never
counts it). Real Redis broker and result backend, real worker Request objects; the pool process's
death is the one thing played here, at the moment that loses the part."""

from __future__ import annotations

from billiard.einfo import ExceptionInfo
from celery import chain, chord, states
from celery.exceptions import WorkerLostError
from celery.worker.request import Request

from agents.documents.flow import STAGES
from agents.documents.intake import Upload, batch_create
from bmc.celery import app as celery_app
from bmc.documents.models import Document
from bmc.jobs.submit import task_signature
from tasks import documents as stages
from tests.conftest import queues_purge


def _take(queue_name: str, count: int, timeout: float = 5.0) -> list:
    """Take up to `count` messages off a queue, as a worker's consumer receives them."""
    taken: list = []

    def receive(body, message):
        message.ack()  # off the broker: the Requests below stand in for the worker's handling
        taken.append(message)

    with celery_app.connection_for_read() as connection:
        with connection.Consumer(celery_app.amqp.queues[queue_name], accept=["json"], callbacks=[receive]):
            while len(taken) < count:
                try:
                    connection.drain_events(timeout=timeout)
                except TimeoutError:
                    break
    return taken


def _lost() -> ExceptionInfo:
    try:
        raise WorkerLostError("Worker exited prematurely: signal 9 (SIGKILL) Job: 179.")
    except WorkerLostError:
        return ExceptionInfo()


def _chord_with_its_first_part_lost(tenant):
    """A batch's chord of two validations: the second ran as a pool process runs it (body, result
    stored, part counted); the first's process stored SUCCESS (mark_as_done's first half) and was
    killed. Returns the batch and the first part's worker Request."""
    queues_purge(("documents",))
    batch = batch_create(
        tenant=tenant,
        uploads=[Upload("a.txt", b"Factura 1 total 10"), Upload("b.txt", b"Factura 2 total 20")],
        source="api",
    )
    first, second = Document.objects.filter(batch=batch).order_by("pk")
    chord([stages.validate.si(first.pk), stages.validate.si(second.pk)])(stages.crosscheck_batch.si(batch.pk))
    messages = {message.payload[0][0]: message for message in _take("documents", 2)}
    assert set(messages) == {first.pk, second.pk}
    Request(messages[second.pk], app=celery_app, task=stages.validate).execute()
    lost = stages.validate.Request(messages[first.pk], app=celery_app, task=stages.validate)
    stages.validate.backend.store_result(lost.id, first.pk, states.SUCCESS, request=lost._context)
    return batch, lost


def test_a_part_whose_process_died_after_storing_its_result_still_completes_the_chord(transactional_db, tenant):
    batch, lost = _chord_with_its_first_part_lost(tenant)
    # killed before counting the part (mark_as_done's second half): the worker's main process
    # then sees the process lost
    lost.on_failure(_lost(), send_failed_event=False, return_ok=False)

    sent = [(m.headers["task"], m.payload[0]) for m in _take("documents", 1)]
    assert sent == [("tasks.documents.crosscheck_batch", [batch.pk])]  # the chord's callback
    assert lost.acknowledged  # and the lost part is not run again


def test_a_part_whose_process_died_holding_the_callback_claim_still_completes_the_chord(
    transactional_db, tenant, monkeypatch
):
    """The last part's process stored its result, counted it, claimed the right to send the
    callback (Celery holds that claim a few seconds) and died before sending it: the main
    process's count cannot send it while the claim holds, its second count once it expired does."""
    batch, lost = _chord_with_its_first_part_lost(tenant)
    backend = stages.validate.backend

    class Killed(BaseException):
        pass

    def killed(*args, **kwargs):
        raise Killed  # the process dies between claiming the callback and sending it

    with monkeypatch.context() as patch:
        patch.setattr(type(backend), "_chord_claim_extend_script", property(lambda self: killed))
        try:
            backend.on_chord_part_return(lost._context, states.SUCCESS, lost.args[0])
        except Killed:
            pass
    assert _take("documents", 1, timeout=1) == []  # nothing sent: the dead process holds the claim

    lost.on_failure(_lost(), send_failed_event=False, return_ok=False)
    sent = [(m.headers["task"], m.payload[0]) for m in _take("documents", 1, timeout=15)]
    assert sent == [("tasks.documents.crosscheck_batch", [batch.pk])]  # once the claim expired


def test_a_stage_whose_process_died_is_sent_again_and_the_loss_counted(transactional_db, tenant):
    """What the worker does when a pool process dies under a stage (Celery 5.7's
    retry_on_worker_lost): the stage goes out again, a retry, and the document counts the loss."""
    queues_purge(("documents",))
    batch = batch_create(tenant=tenant, uploads=[Upload("a.txt", b"Factura 1 total 10")], source="api")
    document = Document.objects.get(batch=batch)
    chain(*(task_signature(stage, document.pk) for stage in STAGES)).apply_async()  # the document's chain
    (message,) = _take("documents", 1)
    stages.ingest.Request(message, app=celery_app, task=stages.ingest).on_failure(_lost(), send_failed_event=False)

    (again,) = _take("documents", 1)
    assert (again.headers["task"], again.headers["retries"], again.payload[0]) == (
        "tasks.documents.ingest",
        1,
        [document.pk],
    )
    document.refresh_from_db()
    assert document.attempts == 1
