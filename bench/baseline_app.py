"""A bare Celery app for the benchmarks' baseline: the product's own Celery settings (read from
bmc/settings.py: broker, result backend, serializers, prefetch, acks, events, priority steps),
no Django, one queue, tasks that do nothing.

    celery -A bench.baseline_app worker -Q bench_baseline --concurrency=N
"""

from __future__ import annotations

import os
import time

import redis
from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bmc.settings")
from bmc import settings as product  # noqa: E402  (plain module: only its CELERY_* values are used)

QUEUE = "bench_baseline"
DONE_KEY = "bench:baseline:done"

app = Celery("bench_baseline", set_as_current=False)
app.config_from_object(product, namespace="CELERY")
app.conf.update(
    # the product's topology and periodic work are not part of the baseline
    task_default_queue=QUEUE,
    task_queues=None,
    task_routes=None,
    imports=[],
    beat_schedule={},
    # the agents' tasks are acknowledged late and re-queued if their worker dies
    task_acks_late=True,
    task_reject_on_worker_lost=True,
)
_redis = redis.Redis.from_url(product.REDIS_URL)


@app.task(name="bench.noop")
def noop(*args, **kwargs) -> None:
    return None


@app.task(name="bench.hop")
def hop(started: float, label: str) -> float:
    """A hop of the baseline chain: passes the start time on."""
    return started


@app.task(name="bench.last_hop")
def last_hop(started: float, label: str) -> None:
    """The chain's end: records when it finished, as the pipeline stores its reply."""
    _redis.hset(DONE_KEY, label, f"{started} {time.time()}")
