"""The one place that names the Celery queues and task priorities.

Import-light on purpose (no Django, no Celery): task routes, the Procfile's worker lines
and the agent registry are all derived from this module, and a test checks they agree.
"""

from __future__ import annotations

import enum


class Queue(enum.StrEnum):
    """One queue per agent; tasks/<queue>.py holds the tasks consumed from it."""

    ORCHESTRATOR = "orchestrator"
    CONVERSATION = "conversation"
    QUOTE = "quote"
    OUTBOUND = "outbound"
    FOLLOWUP = "followup"
    DUNNING = "dunning"
    DATASYNC = "datasync"
    ANALYTICS = "analytics"
    DOCUMENTS = "documents"
    ORDER = "order"
    INVENTORY = "inventory"
    PAYMENT = "payment"
    CATALOG = "catalog"


ALL_QUEUES: tuple[str, ...] = tuple(q.value for q in Queue)
DEFAULT_QUEUE = Queue.ORCHESTRATOR.value


class Priority(enum.StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    CRITICAL = "critical"


# Kombu's Redis transport keeps one list per priority step and pops the lowest step first,
# so 0 is the most urgent. The steps double as the transport's `priority_steps`.
PRIORITY_LEVELS: dict[str, int] = {
    Priority.CRITICAL.value: 0,
    Priority.HIGH.value: 3,
    Priority.NORMAL.value: 6,
    Priority.LOW.value: 9,
}
PRIORITY_STEPS: list[int] = sorted(PRIORITY_LEVELS.values())
DEFAULT_PRIORITY = Priority.NORMAL.value


def celery_priority(priority: str) -> int:
    return PRIORITY_LEVELS[priority]


def task_routes() -> dict[str, dict[str, str]]:
    """Glob routes: every task defined in tasks/<queue>.py goes to <queue>."""
    return {f"tasks.{queue}.*": {"queue": queue} for queue in ALL_QUEUES}


# Worker options of one queue beyond the common ones. A documents pool process that grew past
# 256 MB (a huge PDF parsed) is replaced after its task, so the worker's memory stays bounded;
# each documents process reserves its next stages while it works on one (stages are short and
# many; measured with bench/documents_batch.py: about 5% more documents a second than one at a
# time). If the whole worker dies, Redis hands those few messages back after the visibility
# timeout, and the watchdog finishes their batch before that.
QUEUE_WORKER_OPTIONS: dict[str, tuple[str, ...]] = {
    Queue.DOCUMENTS.value: ("--max-memory-per-child=262144", "--prefetch-multiplier=4"),
}
# Processes per worker: WORKER_CONCURRENCY (default 1) for the agents, which answer one
# conversation's turn at a time; the documents agent reads a batch in parallel, so its worker
# starts two (DOCUMENTS_CONCURRENCY).
QUEUE_CONCURRENCY: dict[str, str] = {Queue.DOCUMENTS.value: "${DOCUMENTS_CONCURRENCY:-2}"}


def worker_command(queue: str) -> str:
    return " ".join(
        (
            f"celery -A bmc worker -Q {queue} -n {queue}@%h",
            f"--concurrency={QUEUE_CONCURRENCY.get(queue, '${WORKER_CONCURRENCY:-1}')} --loglevel=${{LOG_LEVEL:-INFO}}",
            "--without-mingle --without-gossip",
            *QUEUE_WORKER_OPTIONS.get(queue, ()),
        )
    )


def procfile_lines() -> list[str]:
    """The Procfile, derived from the queues: web, one worker per queue, beat, Flower."""
    lines = [
        # uvicorn under gunicorn: HTTP and the staff pages' WebSockets on one port (bmc/asgi.py);
        # HTTP on WEB_THREADS threads per process, so a request that waits (chat/process, up to
        # CHAT_PROCESS_WAIT) holds a thread, not a whole worker
        "web: gunicorn bmc.asgi:application --worker-class uvicorn_worker.UvicornWorker "
        "--bind ${WEB_BIND:-127.0.0.1}:${WEB_PORT:-8000} --workers ${WEB_WORKERS:-2} --access-logfile - "
        "--graceful-timeout 5",
    ]
    lines += [f"worker_{queue}: {worker_command(queue)}" for queue in ALL_QUEUES]
    lines += [
        "beat: celery -A bmc beat --loglevel=${LOG_LEVEL:-INFO}",
        "flower: celery -A bmc flower --address=${FLOWER_ADDRESS:-127.0.0.1} --port=${FLOWER_PORT:-5555}",
    ]
    return lines


if __name__ == "__main__":  # python -m bmc.queues > Procfile
    print("\n".join(procfile_lines()))
