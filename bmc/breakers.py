"""Circuit breakers around the services outside: the language model, WhatsApp's Cloud API, n8n and
Mercado Pago. After BREAKER_FAILURES failures in a row that say the service is unwell (no answer, a
timeout, 429, 5xx; an answer refusing our request is the service working) a breaker opens: for
BREAKER_RESET_SECONDS nothing calls the service and callers take their fallback at once (the
built-in reader instead of the model, a send retried later). Then it is half-open: one trial call
goes through; its success closes the breaker, its failure opens it again.

The state lives in Redis (REDIS_URL), so the web process's threads and every worker process see the
same breaker: a hash per service (failures, opened_at, the last error) and, while half-open, a key
held by the one trial (it expires after BREAKER_RESET_SECONDS, should its process die). A failure
and a success each change the hash in one Lua script, so two processes cannot both open a breaker
or close one the other just reopened.

Not pybreaker: its `CircuitBreaker.call` holds a per-process lock for the whole call, so the web
process's threads asking the model would wait for each other behind a 5 s timeout; its half-open
state lets every caller through, in every process, not one trial; and its Redis storage moves
state, counter and opening time in separate commands, which processes can interleave.

The data sync's sources keep their own breaker, per company and source, in their rows
(`SyncSource.failures` and `open_until`, agents/datasync/runs.py); `breaker_states` reports them
beside these. A Redis that does not answer leaves every call through: a breaker must not be the
thing that stops the system.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from functools import cache
from typing import Any

import redis
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

from bmc.datasync.models import SyncSource

logger = logging.getLogger(__name__)

MODEL = "model"
WHATSAPP = "whatsapp"
N8N = "n8n"
MERCADOPAGO = "mercadopago"
SERVICES = (MODEL, WHATSAPP, N8N, MERCADOPAGO)
SYNC_PREFIX = "sync:"
KEY = "bmc:breaker:{}"

# KEYS: the hash, the trial key. ARGV: now, failures to open, error, "1" when this was the trial.
# Opens when the threshold is reached while closed, or when the trial failed; a late failure of
# a call started before the breaker opened does not push its opening back.
_FAILURE = """
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
redis.call('HSET', KEYS[1], 'last_error', ARGV[3])
local closed = redis.call('HEXISTS', KEYS[1], 'opened_at') == 0
if ARGV[4] == '1' or (closed and failures >= tonumber(ARGV[2])) then
  redis.call('HSET', KEYS[1], 'opened_at', ARGV[1])
  redis.call('DEL', KEYS[2])
  return 1
end
return 0
"""
# KEYS: the hash, the trial key. ARGV: "1" when this was the trial. The trial's success closes
# the breaker; any other success only clears the failures counted while closed.
_SUCCESS = """
if ARGV[1] == '1' or redis.call('HEXISTS', KEYS[1], 'opened_at') == 0 then
  redis.call('DEL', KEYS[1], KEYS[2])
end
return 0
"""


class BreakerOpen(ConnectionError):
    """The service's breaker is open (or its one trial is under way): nothing was attempted.
    A ConnectionError, so whatever retries a service not answering retries this too."""

    def __init__(self, name: str, *, retry_at: float):
        super().__init__(f"circuit breaker {name} open: not called until {_iso(retry_at)}")
        self.name = name
        self.retry_at = retry_at

    @property
    def retry_after(self) -> float:
        """Seconds until a trial may go through."""
        return max(0.0, self.retry_at - time.time())


@cache
def _client(url: str) -> redis.Redis:
    # one pool per process, shared by its threads (redis-py's pool starts anew after a fork)
    return redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1, decode_responses=True)


def _redis() -> redis.Redis:
    return _client(settings.REDIS_URL)


@cache
def _script(url: str, source: str) -> Any:
    return _client(url).register_script(source)


def _keys(name: str) -> tuple[str, str]:
    key = KEY.format(name)
    return key, f"{key}:trial"


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds")


def _enter(name: str) -> tuple[bool, bool]:
    """May the service be called now? (whether this call is the half-open breaker's trial,
    whether failures were counted before it); BreakerOpen when it may not."""
    key, trial = _keys(name)
    client = _redis()
    opened_at, failures = client.hmget(key, "opened_at", "failures")
    if opened_at is None:
        return False, bool(failures and int(failures))
    retry_at = float(opened_at) + settings.BREAKER_RESET_SECONDS
    if time.time() < retry_at:
        raise BreakerOpen(name, retry_at=retry_at)
    if client.set(trial, uuid.uuid4().hex, nx=True, ex=max(1, round(settings.BREAKER_RESET_SECONDS))):
        logger.info("circuit breaker half-open: a trial call", extra={"breaker": name})
        return True, True
    # another process's trial is under way: ask again when it will have told, at the latest
    raise BreakerOpen(name, retry_at=time.time() + max(client.ttl(trial), 1))


@contextmanager
def breaker_guard(name: str, *, unwell: Callable[[BaseException], bool]) -> Iterator[None]:
    """Call the service inside: BreakerOpen at once while its breaker is open. An exception for
    which `unwell` is true counts against the service; any other answer, a refusal too, is the
    service answering. A trial cut short (a time limit, a worker stopping) records nothing and
    frees the trial for another process."""
    try:
        trial, failed_before = _enter(name)
    except redis.RedisError as error:
        logger.warning("circuit breaker unreadable: calling anyway", extra={"breaker": name, "error": str(error)})
        yield
        return
    try:
        yield
    except SoftTimeLimitExceeded:
        _trial_free(name, trial=trial)
        raise
    except Exception as error:
        if unwell(error):
            _failure(name, trial=trial, error=f"{type(error).__name__}: {error}")
        elif failed_before:
            _success(name, trial=trial)
        raise
    except BaseException:
        _trial_free(name, trial=trial)
        raise
    if failed_before:  # nothing to clear otherwise: the common case costs one read
        _success(name, trial=trial)


def _trial_free(name: str, *, trial: bool) -> None:
    if trial:
        with suppress(redis.RedisError):
            _redis().delete(_keys(name)[1])


def _failure(name: str, *, trial: bool, error: str) -> None:
    try:
        opened = _script(settings.REDIS_URL, _FAILURE)(
            keys=_keys(name), args=[time.time(), settings.BREAKER_FAILURES, error[:500], "1" if trial else "0"]
        )
    except redis.RedisError:
        logger.exception("could not count a failure on a circuit breaker", extra={"breaker": name})
        return
    if opened:
        logger.warning(
            "circuit breaker open: %s not called for %s s",
            name,
            settings.BREAKER_RESET_SECONDS,
            extra={"breaker": name, "error": error[:300]},
        )


def _success(name: str, *, trial: bool) -> None:
    try:
        _script(settings.REDIS_URL, _SUCCESS)(keys=_keys(name), args=["1" if trial else "0"])
    except redis.RedisError:
        logger.exception("could not record a success on a circuit breaker", extra={"breaker": name})
        return
    if trial:
        logger.info("circuit breaker closed: the trial call went through", extra={"breaker": name})


def breaker_states(*, tenant_id: int | None = None) -> dict[str, dict[str, Any]]:
    """Every breaker by name: {"state": "closed" | "open" | "half_open", "failures": int, and where
    known "opened_at", "retry_at" (ISO 8601, UTC) and "last_error"}. The services' breakers, then
    the data sync's sources as `sync:<company>:<source>` (only `tenant_id`'s when given)."""
    client = _redis()
    pipe = client.pipeline()
    for name in SERVICES:
        key, trial = _keys(name)
        pipe.hgetall(key).exists(trial)
    answers = pipe.execute()
    now = time.time()
    states: dict[str, dict[str, Any]] = {}
    for name, stored, trying in zip(SERVICES, answers[::2], answers[1::2], strict=True):
        state: dict[str, Any] = {"state": "closed", "failures": int(stored.get("failures", 0))}
        if "opened_at" in stored:
            opened_at = float(stored["opened_at"])
            retry_at = opened_at + settings.BREAKER_RESET_SECONDS
            state["state"] = "open" if now < retry_at else "half_open"
            state |= {"opened_at": _iso(opened_at), "retry_at": _iso(retry_at), "trial": bool(trying)}
        if stored.get("last_error"):
            state["last_error"] = stored["last_error"]
        states[name] = state
    sources = SyncSource.objects.select_related("tenant").order_by("tenant__slug", "source")
    if tenant_id is not None:
        sources = sources.filter(tenant_id=tenant_id)
    for source in sources:
        state = {"state": "closed", "failures": source.failures}
        if source.circuit_open:
            state |= {"state": "open", "retry_at": source.open_until.astimezone(UTC).isoformat(timespec="seconds")}
        elif source.failures >= settings.SYNC_BREAKER_FAILURES:
            state["state"] = "half_open"  # its next run is the trial
        if source.last_error:
            state["last_error"] = source.last_error[:500]
        states[f"{SYNC_PREFIX}{source.tenant.slug}:{source.source}"] = state
    return states


def breaker_reset(name: str, *, tenant_id: int | None = None) -> bool:
    """Close a breaker by hand (the service is known to be back): calls go through at once. A
    sync source's only within `tenant_id` when given. False when there is no such breaker."""
    if name in SERVICES:
        _redis().delete(*_keys(name))
        logger.info("circuit breaker closed by hand", extra={"breaker": name})
        return True
    slug, _, source = name.removeprefix(SYNC_PREFIX).partition(":")
    if not name.startswith(SYNC_PREFIX) or not source:
        return False
    sources = SyncSource.objects.filter(tenant__slug=slug, source=source)
    if tenant_id is not None:
        sources = sources.filter(tenant_id=tenant_id)
    return bool(sources.update(open_until=None, failures=0))  # as the data sync admin's own action


def breakers_reset_all() -> None:
    """Every service's breaker closed (the tests start each from there)."""
    _redis().delete(*(key for name in SERVICES for key in _keys(name)))
