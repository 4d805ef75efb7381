"""One process holding the whole system, for the benches that count or score what it does: a fresh
SQLite database under var/<name>, the embedded Redis (or REDIS_URL when set), the bootstrap data,
an API key, and a Celery worker in a thread consuming every queue."""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def environment(*, var: Path) -> object | None:
    """The embedded Redis unless REDIS_URL is set; a fresh SQLite database in `var`. Call before
    Django or Celery is imported: they read the environment then."""
    shutil.rmtree(var, ignore_errors=True)
    var.mkdir(parents=True)
    os.environ.update(
        DJANGO_SETTINGS_MODULE="bmc.settings",
        LOG_LEVEL="ERROR",
        BMC_VAR_DIR=str(var),
        DATABASE_URL=f"sqlite:///{var / 'db.sqlite3'}",
    )
    redis = None
    if not os.environ.get("REDIS_URL"):
        from bmc.launcher import EmbeddedRedis, _free_port

        redis = EmbeddedRedis(_free_port(), var / "redis")
        redis.start()
        os.environ["REDIS_URL"] = redis.url
    return redis


@contextmanager
def environment_running(*, var: Path) -> Iterator[None]:
    """environment(), and the embedded Redis stopped after."""
    redis = environment(var=var)
    try:
        yield
    finally:
        if redis:
            redis.stop()


def system_prepare(*, key_name: str) -> str:
    """Django set up, the database migrated and bootstrapped; returns a new API key."""
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("bootstrap", stdout=io.StringIO())
    out = io.StringIO()
    call_command("create_api_key", "--tenant", "bmc", "--name", key_name, stdout=out)
    return out.getvalue().strip().splitlines()[-1]


@contextmanager
def worker_running() -> Iterator[None]:
    """A Celery worker in a thread of this process, on every queue."""
    from celery.contrib.testing.worker import start_worker

    from bmc.celery import app
    from bmc.queues import ALL_QUEUES

    with start_worker(app, pool="solo", queues=list(ALL_QUEUES), perform_ping_check=False, shutdown_timeout=30):
        yield
