"""The Celery app. Queues, routes and priorities come from bmc.queues through settings."""

from __future__ import annotations

import os

from celery import Celery, signals

from bmc.tracing import tracing_flush, tracing_setup

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bmc.settings")

app = Celery("bmc")
app.config_from_object("django.conf:settings", namespace="CELERY")


@signals.setup_logging.connect
def _configure_logging(**kwargs) -> None:
    """Workers and beat log through Django's LOGGING (JSON lines), not Celery's own format."""
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)


# --- traces (bmc/tracing.py): each process that runs or sends tasks sets itself up once ----------
_worker_process = "worker"


@signals.worker_init.connect
def _tracing_worker(sender=None, **kwargs) -> None:
    """A worker traces in the processes that run its tasks. A prefork pool's processes set up on
    worker_process_init, after the fork (an exporter's thread does not survive one); a pool without
    processes of its own (solo, threads) sets up here."""
    from celery.concurrency import get_implementation  # the pools' modules: a worker's alone
    from celery.concurrency.prefork import TaskPool as PreforkPool

    global _worker_process
    if sender is None:
        return
    _worker_process = "worker:" + ",".join(sorted(sender.app.amqp.queues.consume_from))
    pool = get_implementation(sender.pool_cls)
    if not (isinstance(pool, type) and issubclass(pool, PreforkPool)):
        tracing_setup(process=_worker_process)


@signals.worker_process_init.connect
def _tracing_pool_process(**kwargs) -> None:
    tracing_setup(process=_worker_process)


@signals.worker_process_shutdown.connect
def _tracing_pool_process_exit(**kwargs) -> None:
    tracing_flush()  # the spans still batched, before the process is gone


@signals.beat_init.connect
def _tracing_beat(**kwargs) -> None:
    tracing_setup(process="beat")
