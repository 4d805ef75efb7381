"""celery-beat with the database scheduler: it ticks, and its schedule lives in the admin."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from django_celery_beat.models import PeriodicTask

from bmc.health import beat_tick_last
from tests.conftest import ROOT, _test_database_url, wait_for

pytestmark = pytest.mark.worker


def test_beat_records_its_ticks_and_installs_the_reaper_schedule(transactional_db):
    before = beat_tick_last() or 0
    env = {**os.environ, "DATABASE_URL": _test_database_url()}
    beat = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "bmc", "beat", "--loglevel=WARNING"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for(lambda: (beat_tick_last() or 0) > before, timeout=60)
        reaper = wait_for(lambda: PeriodicTask.objects.filter(task="tasks.orchestrator.reap_tasks").first())
        assert reaper.enabled and reaper.interval.every == 60
    finally:
        os.killpg(beat.pid, signal.SIGTERM)
        beat.wait(timeout=30)
