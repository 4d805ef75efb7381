"""What every agent task shares: the tracked base class, the decorator and the signals that keep
each AgentTask's status, attempts and timing true.

A task submitted through the orchestrator runs under the AgentTask's own id, so the signals
find its record by `task_id`. Tasks not submitted that way (the reaper, canvases) have no
record and the signals leave them alone.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import kombu.exceptions
import redis.exceptions
from celery import Task, shared_task, signals, states
from celery.backends.redis import RedisBackend
from celery.exceptions import Ignore
from celery.worker.request import Request
from django.conf import settings
from django.db import InterfaceError, OperationalError, close_old_connections

from agents.workflows.engine import workflow_step_task_finished
from bmc.jobs import records
from bmc.jobs.models import AgentTask
from bmc.logging import log_context_bind, log_context_reset
from bmc.queues import Queue
from bmc.tracing import trace_id_current

logger = logging.getLogger(__name__)

# Transient by nature: worth a retry. Validation errors are never in this list, nor a task that
# hit its soft time limit (it would only be slow again).
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    ConnectionError,
    TimeoutError,
    # the broker or the result backend gone for a moment (a Redis restart): not the builtins above
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    kombu.exceptions.OperationalError,
    # the database gone for a moment (a restart, a failover): retried in seconds, instead of the
    # reaper's REAPER_QUEUED_DEADLINE for a task whose record could not even be claimed
    OperationalError,
    InterfaceError,
)


class ChordPartRequest(Request):
    """Celery 5.7 mends one case of a pool process lost under a chord's header task badly: when
    the process had stored SUCCESS and died before counting the task in its chord (both happen in
    `backend.mark_as_done`, one after the other), the worker acknowledges the message as done and
    the chord waits forever for a part that will never come again. Here the worker's main process
    counts it itself. Only with the Redis result backend, which counts a part once by its task id
    (a part already counted is not counted twice); backends that count by increment would count
    it again, and the database backend polls the results instead of counting."""

    def _success_was_stored(self):
        """Celery asks this of a task whose process was lost, and acknowledges the task as done
        when it says SUCCESS was stored: that is the moment to count the part.

        The process may also have counted the part itself and, being the last, claimed the right
        to send the chord's callback before it died (Celery holds that claim a few seconds, for a
        worker that crashes mid-dispatch). Counting now then cannot send the callback; counting
        once more after the claim has expired can. Neither count does harm: a part is counted
        once by its id, and a callback already sent is not sent again (Celery's done marker)."""
        stored = super()._success_was_stored()
        if stored and self._context.chord and isinstance(self.task.backend, RedisBackend):
            logger.warning("counting a chord part whose process died after it succeeded", extra={"task_id": self.id})
            # this thread's backend: in another thread the task would find a disabled one
            backend = self.task.backend
            self._count_part(backend, stored)
            wait = _chord_claim_seconds(self.task.app) + 1
            again = threading.Timer(wait, self._count_part, args=(backend, stored))
            again.daemon = True
            again.start()
        return stored

    def _count_part(self, backend: RedisBackend, stored: dict[str, Any]) -> None:
        try:
            backend.on_chord_part_return(self._context, states.SUCCESS, stored.get("result"))
        except Exception:  # Celery's own handling must go on whatever happens here
            logger.exception("could not count a lost chord part", extra={"task_id": self.id})


def _chord_claim_seconds(app) -> int:
    """How long Celery's Redis backend holds the claim to send a chord's callback (its own rule,
    in `RedisBackend.on_chord_part_return`)."""
    return max(5, int((app.conf.result_chord_join_timeout or 5.0) * 2))


class TrackedTask(Task):
    """Skips a delivery whose record is already final: a redelivered or re-dispatched message
    of a task that completed, was cancelled or died runs nothing twice. `track_records = False`
    (a document's pipeline stages, hundreds a second) skips the AgentTask bookkeeping."""

    Request = ChordPartRequest
    track_records = True

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if getattr(self.request, "bmc_skip", False):
            logger.info("skipping a delivery of a task already final or running", extra={"task_id": self.request.id})
            raise Ignore()  # acknowledged, and the stored result is left as it was
        return super().__call__(*args, **kwargs)


def agent_task(queue: Queue, name: str, *, idempotent: bool = True, **options: Any) -> Callable:
    """@shared_task for tasks/<queue>.py, routed to <queue> under the name it is given, written out
    at the task (tasks.<queue>.<what it does>): the name is what the broker, beat's schedule and
    the task records hold, so moving or renaming the function changes nothing stored.

    Idempotent tasks are acknowledged after they run and re-queued if their worker dies. Their
    results live in the AgentTask record, so the result backend is skipped (one write less per
    task) unless a canvas needs it: a chord's header passes `ignore_result=False`."""

    if not name.startswith(f"tasks.{queue.value}."):
        raise ValueError(f"task name '{name}' must start with 'tasks.{queue.value}.': it is routed by its name")

    def decorator(fn: Callable) -> Task:
        return shared_task(
            bind=True,
            base=options.pop("base", TrackedTask),
            name=name,
            acks_late=idempotent,
            reject_on_worker_lost=idempotent,
            autoretry_for=options.pop("autoretry_for", TRANSIENT_ERRORS),
            retry_backoff=options.pop("retry_backoff", 2),
            retry_backoff_max=options.pop("retry_backoff_max", 300),
            retry_jitter=True,
            max_retries=options.pop("max_retries", 5),
            ignore_result=options.pop("ignore_result", True),
            **options,
        )(fn)

    return decorator


# The record each running task claimed, so the task body does not read it again.
_claimed: dict[str, AgentTask] = {}


def claimed_task(task_id: str) -> AgentTask | None:
    """The record a running task claimed, if it is tracked and running in this process."""
    return _claimed.get(str(task_id))


def agent_task_load(task_id: str) -> AgentTask:
    task = _claimed.get(str(task_id))
    return task if task is not None else AgentTask.objects.select_related("tenant").get(task_id=task_id)


def ping_task(queue: Queue) -> Task:
    """Every agent answers a ping on its own queue: proof that the queue is consumed."""

    def ping(self: Task, agent_task_id: str | None = None) -> dict[str, Any]:
        return {"agent": queue.value, "queue": queue.value, "worker": self.request.hostname, "pong": time.time()}

    return agent_task(queue, f"tasks.{queue.value}.ping", soft_time_limit=10, time_limit=20, max_retries=0)(ping)


# --- signals ------------------------------------------------------------------------------------


def _header(request: Any, name: str) -> str | None:
    """Custom message headers show up on the request itself or under .headers, by protocol."""
    return getattr(request, name, None) or (getattr(request, "headers", None) or {}).get(name)


@signals.task_prerun.connect
def _on_prerun(task_id: str, task: Task, **kwargs: Any) -> None:
    close_old_connections()
    request = task.request
    request.bmc_log_token = log_context_bind(
        # an untracked task (a document's stage) logs under its span's trace when tracing is on
        trace_id=_header(request, "trace_id") or trace_id_current(),
        task_id=task_id,
        agent=(request.delivery_info or {}).get("routing_key") or task.name.split(".")[1],
        tenant=_header(request, "tenant"),
    )
    request.bmc_started = time.monotonic()
    if not getattr(task, "track_records", False):  # high-volume steps keep their state elsewhere
        request.bmc_tracked, request.bmc_skip, request.bmc_attempt = False, False, 0
        return
    claim = records.agent_task_claim(
        task_id=task_id,
        worker=request.hostname or socket.gethostname(),
        redelivered=bool((request.delivery_info or {}).get("redelivered")),
        max_attempts=settings.TASK_MAX_ATTEMPTS,
    )
    request.bmc_tracked = claim.tracked
    request.bmc_skip = not claim.run
    request.bmc_attempt = claim.attempt
    if claim.task is not None and claim.run:
        _claimed[str(task_id)] = claim.task


def _elapsed_ms(task: Task) -> int | None:
    started = getattr(task.request, "bmc_started", None)
    return int((time.monotonic() - started) * 1000) if started is not None else None


@signals.task_success.connect
def _on_success(sender: Task, result: Any, **kwargs: Any) -> None:
    request = sender.request
    if getattr(request, "bmc_tracked", False) and not getattr(request, "bmc_skip", False):
        task = _claimed.get(str(request.id))
        done = records.agent_task_complete(
            task_id=request.id,
            attempt=request.bmc_attempt,
            result=result,
            processing_time_ms=_elapsed_ms(sender) or 0,
            task=task,
        )
        if done and task is not None and task.metadata.get("workflow_run"):
            _workflow_wake(task)


@signals.task_retry.connect
def _on_retry(sender: Task, request: Any, reason: Any, **kwargs: Any) -> None:
    if getattr(sender.request, "bmc_tracked", False):
        records.agent_task_retrying(task_id=request.id, attempt=sender.request.bmc_attempt, reason=str(reason))


@signals.task_failure.connect
def _on_failure(sender: Task, task_id: str, exception: BaseException, **kwargs: Any) -> None:
    # Also sent by the worker's main process (hard time limit, a lost process not requeued),
    # where no prerun ran: update by id; a task without a record matches nothing.
    if getattr(sender.request, "bmc_skip", False) or not getattr(sender, "track_records", True):
        return
    close_old_connections()
    failed = records.agent_task_fail(
        task_id=task_id, error=f"{type(exception).__name__}: {exception}", processing_time_ms=_elapsed_ms(sender)
    )
    if failed:
        step_task = AgentTask.objects.filter(task_id=task_id, metadata__has_key="workflow_run").first()
        if step_task is not None:
            _workflow_wake(step_task)


def _workflow_wake(task: AgentTask) -> None:
    """A workflow step's work ended: its run goes on now. Should this be lost (the process dies
    here, the broker is away), beat's workflow scan finds the step's task finished and does it."""
    try:
        workflow_step_task_finished(task=task)
    except Exception:
        logger.exception("could not hand a finished step on to its workflow", extra={"task_id": str(task.task_id)})


@signals.task_revoked.connect
def _on_revoked(request: Any, terminated: bool, expired: bool, **kwargs: Any) -> None:
    # Runs in the worker's main process, which has no per-task context: update by id only.
    close_old_connections()
    records.agent_task_fail(
        task_id=request.id,
        error="expired before it ran" if expired else ("terminated on cancel" if terminated else "cancelled"),
        status=AgentTask.Status.DEAD if expired else AgentTask.Status.CANCELLED,
    )


@signals.task_postrun.connect
def _on_postrun(task: Task, task_id: str, **kwargs: Any) -> None:
    _claimed.pop(str(task_id), None)
    token = getattr(task.request, "bmc_log_token", None)
    if token is not None:
        log_context_reset(token)
