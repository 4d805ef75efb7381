"""What the documents agent takes from Celery, checked on pytest-celery's in-process worker with
the product's broker, result backend and message settings (a queue of its own): a chord whose header is one chain per
document, where only each chain's last link keeps a result, fires its callback once with one
result per chain. If an upgrade of Celery changed that, every batch would wait for the watchdog.
"""

from __future__ import annotations

import uuid

import pytest
from celery import chain, chord


@pytest.fixture(scope="session")
def celery_config():
    from django.conf import settings

    return {
        "broker_url": settings.CELERY_BROKER_URL,
        "result_backend": settings.CELERY_RESULT_BACKEND,
        "broker_transport_options": settings.CELERY_BROKER_TRANSPORT_OPTIONS,
        "task_default_queue": "contract-checks",
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
    }


def test_a_chord_of_chains_counts_only_the_last_links(celery_session_app, celery_session_worker):
    """pytest-celery's in-process worker (its Docker workers cannot run here; its `celery_worker`
    name is theirs, so the session worker it keeps from Celery's own fixtures)."""
    celery_app = celery_session_app

    @celery_app.task(name="contract.stage", ignore_result=True)
    def stage(document_id: int) -> int:
        return document_id

    @celery_app.task(name="contract.last_stage", ignore_result=False)
    def last_stage(document_id: int) -> int:
        return document_id * 10

    @celery_app.task(name="contract.crosscheck", ignore_result=False)
    def crosscheck(results: list[int]) -> list[int]:
        return sorted(results)

    celery_session_worker.reload()  # the worker learns the tasks defined here
    run = uuid.uuid4().hex[:8]

    def link(task, n: int, step: int):
        return task.si(n).set(task_id=f"contract-{run}-{n}-{step}")

    chains = [chain(*(link(stage, n, step) for step in range(3)), link(last_stage, n, 3)) for n in range(1, 9)]
    result = chord(chains)(crosscheck.s())
    assert result.get(timeout=30) == [10, 20, 30, 40, 50, 60, 70, 80]  # once, one result per chain
    stored = {step: celery_app.AsyncResult(f"contract-{run}-1-{step}").state for step in range(4)}
    assert stored == {0: "PENDING", 1: "PENDING", 2: "PENDING", 3: "SUCCESS"}  # the first links store nothing
