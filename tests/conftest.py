"""Shared fixtures. The broker is the real Redis (REDIS_URL, or the embedded one `make test`
starts); the database is PostgreSQL when DATABASE_URL says so, the SQLite file otherwise."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection
from rest_framework.test import APIClient

from bmc.breakers import breakers_reset_all
from bmc.celery import app as celery_app
from bmc.core.models import Tenant
from bmc.core.services import api_key_create
from bmc.launcher import die_with_parent
from bmc.queues import ALL_QUEUES

ROOT = Path(__file__).resolve().parent.parent
# whitenoise warns on every request when the static folder is missing (collectstatic not run)
Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)


@pytest.fixture(autouse=True)
def _breakers_closed() -> None:
    """Every test starts with the services' circuit breakers closed: they live in Redis, and one
    test's failing fake service must not hold back the next test's calls."""
    breakers_reset_all()


@pytest.fixture(autouse=True)
def _limits_fresh() -> None:
    """Every test starts with full request buckets and no usage counted: they live in Redis, which
    outlives a test (and a run: the test database's tenant ids start again at 1 each run)."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    for pattern in ("bmc:rate:*", "bmc:usage:*"):
        keys = list(client.scan_iter(match=pattern, count=1000))
        if keys:
            client.delete(*keys)


@pytest.fixture
def tenant(db) -> Tenant:
    return Tenant.objects.get_or_create(slug="bmc", defaults={"name": "BMC Uruguay"})[0]


@pytest.fixture
def other_tenant(db) -> Tenant:
    return Tenant.objects.create(slug="other", name="Other company")


@pytest.fixture
def api_key(tenant) -> str:
    return api_key_create(tenant=tenant, name="tests")[1]


@pytest.fixture
def api(api_key) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key}")
    return client


@pytest.fixture
def broker_down(monkeypatch, transactional_db) -> Iterator[str]:
    """The broker stops answering: the app publishes to a port where nothing listens (a real
    refused connection, through kombu), until the test ends. With real commits, so the API's
    publish runs before it answers, as in production."""
    port = _free_port()
    url = f"redis://127.0.0.1:{port}/0"
    monkeypatch.setattr(celery_app.conf, "broker_url", url)
    _connection_pools_reset()  # they hold connections to the live broker
    yield url
    monkeypatch.undo()
    _connection_pools_reset()


def _connection_pools_reset() -> None:
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def queues_purge(queues: tuple[str, ...] = ALL_QUEUES) -> None:
    with celery_app.connection_for_write() as conn:
        channel = conn.default_channel
        for queue in queues:
            channel.queue_purge(queue)


def _test_database_url() -> str:
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    user = settings.get("USER") or ""
    password = f":{settings['PASSWORD']}" if settings.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    port = f":{settings['PORT']}" if settings.get("PORT") else ""
    return f"postgres://{auth}{settings.get('HOST') or 'localhost'}{port}/{settings['NAME']}"


class WorkerProcess:
    """A real `celery worker` process, on the test database and the test broker."""

    def __init__(self, queues: tuple[str, ...], concurrency: int = 1, name: str | None = None):
        self.name = name or f"test-{uuid.uuid4().hex[:8]}@{os.uname().nodename}"
        env = {**os.environ, "DATABASE_URL": _test_database_url(), "PYTHONUNBUFFERED": "1", "LOG_LEVEL": "INFO"}
        self.log = ROOT / "var" / f"{self.name.split('@')[0]}.log"
        self.log.parent.mkdir(exist_ok=True)
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "bmc",
                "worker",
                "-Q",
                ",".join(queues),
                "-n",
                self.name,
                f"--concurrency={concurrency}",
                "--without-mingle",
                "--without-gossip",
                "--loglevel=INFO",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        self.wait_ready()

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited: {self.log.read_text()[-3000:]}")
            if celery_app.control.ping(destination=[self.name], timeout=0.5):
                return
        raise RuntimeError(f"worker not ready after {timeout}s: {self.log.read_text()[-3000:]}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


@pytest.fixture
def start_worker(transactional_db) -> Iterator[Callable[..., WorkerProcess]]:
    workers: list[WorkerProcess] = []

    def start(queues: tuple[str, ...] = ALL_QUEUES, concurrency: int = 1, name: str | None = None) -> WorkerProcess:
        worker = WorkerProcess(queues, concurrency, name)
        workers.append(worker)
        return worker

    queues_purge()
    yield start
    for worker in workers:
        worker.stop()
    queues_purge()


@contextmanager
def web_server(**settings: str) -> Iterator[int]:
    """The Procfile's `web:` line (gunicorn) on a free port, on the test database and broker, with
    these settings in its environment; yields the port."""
    from bmc.launcher import _port_open

    command = next(line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("web:"))
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": _test_database_url(),
        "WEB_PORT": str(port),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        **settings,
    }
    log = (ROOT / "var" / "test-web.log").open("w")
    process = subprocess.Popen(
        ["bash", "-c", f"exec {command.removeprefix('web:').strip()}"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=die_with_parent,
    )
    try:
        wait_for(lambda: _port_open(port), timeout=60)
        yield port
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        queues_purge()


def wait_for(predicate: Callable[[], object], timeout: float = 30, interval: float = 0.1) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")
