"""celery-beat with the database scheduler: it ticks, and its schedule lives in the admin."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django_celery_beat.models import PeriodicTask

from bmc.health import beat_tick_last
from tests.conftest import ROOT, _test_database_url, wait_for

pytestmark = pytest.mark.worker


def beat_start(**settings: str) -> subprocess.Popen:
    """celery beat on the test database and broker, with these settings, in its own process group."""
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "bmc", "beat", "--loglevel=WARNING"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": _test_database_url(), **settings},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


@contextmanager
def beat_running(**settings: str) -> Iterator[None]:
    """celery beat, until the block ends."""
    beat = beat_start(**settings)
    try:
        yield
    finally:
        beat_stop(beat)


def beat_stop(beat: subprocess.Popen) -> None:
    os.killpg(beat.pid, signal.SIGTERM)
    try:
        beat.wait(timeout=30)
    except subprocess.TimeoutExpired:  # seen once here: beat stuck on a lock as it stopped (supervisord kills it too)
        os.killpg(beat.pid, signal.SIGKILL)
        beat.wait()


def test_beat_records_its_ticks_and_installs_the_reaper_schedule(transactional_db):
    before = beat_tick_last() or 0
    with beat_running():
        wait_for(lambda: (beat_tick_last() or 0) > before, timeout=60)
        reaper = wait_for(lambda: PeriodicTask.objects.filter(task="tasks.orchestrator.reap_tasks").first())
        assert reaper.enabled and reaper.interval.every == 60


def test_a_broker_that_comes_back_empty_gets_its_lost_work_again_within_seconds(api, tenant, start_worker, settings):
    """Redis restarted without persistence: its queues are gone, the task records are not. Beat
    notices at its next tick (the broker has no epoch) and sends the reaper, which sends the lost
    work again at once, long before the deadline for lost messages (REAPER_QUEUED_DEADLINE)."""
    import redis

    from bmc.health import BROKER_EPOCH_KEY, broker_waiting_ids
    from bmc.jobs.models import AgentTask

    settings.REAPER_QUEUED_DEADLINE = 3600  # what is sent again here is not the deadline's doing
    task_id = api.post("/api/v1/tasks", {"task_type": "analytics.task_stats"}, format="json").json()["task_id"]
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    assert sum(broker.delete(key) for key in broker.keys("analytics*")) >= 1  # the queue is gone...
    broker.delete(BROKER_EPOCH_KEY)  # ...with everything else the broker held
    with beat_running(REAPER_QUEUED_DEADLINE="3600"):
        wait_for(lambda: broker.get(BROKER_EPOCH_KEY), timeout=30)  # beat noticed, and sent the reaper
        start_worker(("orchestrator",))  # no analytics worker: the task is only sent again
        task = wait_for(lambda: AgentTask.objects.filter(task_id=task_id, dispatches=2).first(), timeout=30)
        assert task.status == "queued" and task_id in broker_waiting_ids("analytics")
