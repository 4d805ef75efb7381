"""A bare Celery app for the benchmarks' baseline: the same broker and worker settings as the
product (JSON, prefetch 1, acks_late, the same priority steps), no Django, tasks that do nothing.

    celery -A bench.baseline_app worker -Q bench_baseline --concurrency=N
"""

from __future__ import annotations

import os
import time

import redis
from celery import Celery

from bmc.queues import PRIORITY_STEPS

BROKER = os.environ["REDIS_URL"]
QUEUE = "bench_baseline"
DONE_KEY = "bench:baseline:done"

app = Celery("bench_baseline", broker=BROKER, backend=BROKER, set_as_current=False)
app.conf.update(
    task_serializer="json",
    accept_content=["json"],
    result_serializer="json",
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_default_queue=QUEUE,
    broker_transport_options={"priority_steps": PRIORITY_STEPS, "sep": ":", "queue_order_strategy": "priority"},
    worker_hijack_root_logger=False,
)
_redis = redis.Redis.from_url(BROKER)


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
