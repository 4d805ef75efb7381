"""Health checks: database, broker, result backend, the workers of each queue, beat's last tick;
and the circuit breakers of the services outside, reported without failing the check."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import redis
from django.conf import settings
from django.db import connection, models

from bmc.breakers import breaker_states
from bmc.celery import app as celery_app
from bmc.queues import ALL_QUEUES

BEAT_TICK_KEY = "bmc:beat:last_tick"
# Set in the broker when first seen missing. A broker that lost it (restarted without persistence,
# or flushed) lost its queues with it.
BROKER_EPOCH_KEY = "bmc:broker:epoch"


def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)


def beat_tick_record(*, at: float | None = None) -> None:
    _redis().set(BEAT_TICK_KEY, str(at or time.time()))


def broker_epoch_new() -> bool:
    """True once per broker life: when the broker has no epoch yet (it started empty: the first
    start, or a restart that kept nothing), it gets one now. Redis brokers only; others keep their
    queues across restarts or cannot say, and answer False."""
    client = _broker_redis()
    return client is not None and bool(client.set(BROKER_EPOCH_KEY, str(time.time()), nx=True))


def broker_epoch_forget() -> None:
    client = _broker_redis()
    if client is not None:
        client.delete(BROKER_EPOCH_KEY)


def _broker_redis() -> redis.Redis | None:
    url = settings.CELERY_BROKER_URL
    if not url.startswith(("redis://", "rediss://", "unix://")):
        return None
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def beat_tick_last() -> float | None:
    value = _redis().get(BEAT_TICK_KEY)
    return float(value) if value else None


def _timed(check: Callable[[], dict[str, Any] | None]) -> dict[str, Any]:
    started = time.monotonic()
    try:
        extra = check() or {}
        result = {"ok": extra.pop("ok", True), **extra}
    except Exception as exc:
        result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    result["latency_ms"] = round((time.monotonic() - started) * 1000, 1)
    return result


def _database() -> dict[str, Any]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"vendor": connection.vendor}


def _broker() -> dict[str, Any]:
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
        return {"transport": conn.transport_cls}


def _result_backend() -> dict[str, Any]:
    backend = celery_app.backend
    # Reading an unknown id round-trips to the backend whatever its kind (Redis, database).
    backend.get_task_meta("bmc-health-check")
    return {"backend": type(backend).__name__}


def _beat() -> dict[str, Any]:
    last = beat_tick_last()
    if last is None:
        return {"ok": False, "error": "beat has never ticked"}
    age = time.time() - last
    ok = age <= settings.BEAT_STALE_AFTER
    result: dict[str, Any] = {"ok": ok, "last_tick_age_s": round(age, 1)}
    if not ok:
        result["error"] = f"last tick {age:.0f}s ago (more than {settings.BEAT_STALE_AFTER}s)"
    return result


def _breakers() -> dict[str, Any]:
    """A service outside that is down (its breaker open) is not this system down: its fallback
    runs (the built-in reader, sends retried later), so it is named in `open` and `degraded` but
    the check stays ok. Only breakers that cannot be read (Redis) fail it. No errors here: this
    page needs no key, and an error may hold a URL."""
    states = {
        name: {key: value for key, value in state.items() if key != "last_error"}
        for name, state in breaker_states().items()
    }
    return {"open": [name for name, state in states.items() if state["state"] != "closed"], "states": states}


def queue_workers(*, timeout: float | None = None) -> dict[str, list[str]]:
    """Which live workers consume each queue: one broadcast, answered by every live worker."""
    replies = celery_app.control.inspect(timeout=timeout or settings.HEALTH_PING_TIMEOUT).active_queues() or {}
    consumers: dict[str, list[str]] = {queue: [] for queue in ALL_QUEUES}
    for worker, queues in sorted(replies.items()):
        for queue in queues:
            consumers.setdefault(queue["name"], []).append(worker)
    return consumers


def health_detailed() -> dict[str, Any]:
    checks: dict[str, Any] = {
        "database": _timed(_database),
        "broker": _timed(_broker),
        "result_backend": _timed(_result_backend),
        "beat": _timed(_beat),
        "breakers": _timed(_breakers),
    }
    if checks["broker"]["ok"]:
        try:
            consumers = queue_workers()
        except Exception as exc:
            consumers = {}
            checks["broker"]["error"] = f"worker ping failed: {exc}"
    else:
        consumers = {}
    checks["queues"] = {
        queue: (
            {"ok": True, "workers": consumers[queue]}
            if consumers.get(queue)
            else {"ok": False, "workers": [], "error": "no worker consumes this queue"}
        )
        for queue in ALL_QUEUES
    }
    if checks["broker"]["ok"]:
        checks["backpressure"] = _timed(_backpressure)
    down = [name for name, check in checks.items() if name != "queues" and not check["ok"]]
    down += [f"queue:{queue}" for queue, check in checks["queues"].items() if not check["ok"]]
    degraded = [f"breaker:{name}" for name in checks["breakers"].get("open", [])]
    degraded += [f"queue_over_limit:{queue}" for queue in checks.get("backpressure", {}).get("over", [])]
    return {"status": "ok" if not down else "down", "down": down, "degraded": degraded, "checks": checks}


def _backpressure() -> dict[str, Any]:
    """Queues over their limit take no more work that can wait (it is held): named in `over` and
    in `degraded`, the check itself ok (the work is kept and will be done)."""
    from bmc.jobs.backpressure import queues_over_limit  # the jobs layer, read only for this check
    from bmc.jobs.models import AgentTask

    queues = queues_over_limit()
    held = dict(
        AgentTask.objects.filter(status=AgentTask.Status.HELD).values_list("queue").annotate(n=models.Count("id"))
    )
    for queue, report in queues.items():
        report["held"] = held.get(queue, 0)
    return {"over": [queue for queue, report in queues.items() if report["over"]], "queues": queues}


def queue_depths() -> dict[str, int | None]:
    """Messages waiting in each queue, as the broker counts them (all priorities)."""
    from kombu.exceptions import ChannelError

    depths: dict[str, int | None] = {}
    with celery_app.connection_for_read() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)  # a broker down answers in 2 s, not kombu's 20
        channel = conn.default_channel
        for queue in ALL_QUEUES:
            try:
                depths[queue] = channel.queue_declare(queue=queue, passive=True).message_count
            except ChannelError:  # never declared: nothing ever waited there
                depths[queue] = 0
    return depths


def broker_waiting_ids(queue: str) -> set[str] | None:
    """Ids of the task messages still waiting in a queue, or None when the broker cannot say.

    Reads kombu's Redis layout (one list per priority step, `<queue>:<step>`): a linear scan,
    done by the reaper only for queues that hold a task past its deadline."""
    import json

    with celery_app.connection_for_read() as conn:
        channel = conn.default_channel
        if conn.transport.driver_type != "redis":
            return None
        ids: set[str] = set()
        with channel.conn_or_acquire() as client:
            for step in channel.priority_steps:
                for raw in client.lrange(channel._q_for_pri(queue, step), 0, -1):
                    try:
                        ids.add(json.loads(raw)["headers"]["id"])
                    except (ValueError, KeyError, TypeError):
                        continue
        return ids
