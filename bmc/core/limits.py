"""A tenant's tier and what it allows: API requests per second per key (a token bucket), messages
per day, documents and model tokens per month; and the usage counted against them.

Both live in Redis (REDIS_URL), shared by every web process and worker: the bucket is one Lua
script (read, refill, take, in one round trip, on Redis' own clock), a usage count one HINCRBY on
the day's and the month's hash. Beat copies the counts into TenantUsage rows every minute
(`usage_flush`), so the admin shows them and a Redis that restarted empty learns them back.

Redis unreachable: requests are let through (logged), never refused for want of a counter; the
broker on the same Redis refuses the work itself and says so (503).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import redis
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from bmc.core.models import Tenant, TenantUsage

logger = logging.getLogger(__name__)

KINDS = ("messages", "documents", "model_tokens")
COST_FIELD = "model_cost_micro_usd"  # money as integer millionths in Redis: HINCRBY stays exact
USAGE_TTL = 40 * 24 * 3600  # a month's hash outlives the month it counts, then goes

_BUCKET = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local allowed, wait = 0, 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 1)
return {allowed, tostring(tokens), tostring(wait)}
"""


@dataclass(frozen=True)
class TierLimits:
    requests_per_second: float
    burst: int
    messages_per_day: int | None  # None: no limit
    documents_per_month: int | None
    model_tokens_per_month: int | None


@dataclass(frozen=True)
class BucketAnswer:
    allowed: bool
    remaining: int
    retry_after: int  # whole seconds, at least 1 when refused (the Retry-After header)


def tier_limits(tier: str) -> TierLimits:
    table = settings.TIER_LIMITS
    return TierLimits(**table.get(tier, table[Tenant.Tier.BASIC]))


_clients: dict[str, redis.Redis] = {}


def _redis() -> redis.Redis:
    """One client (and its connection pool) per process and URL: a round trip, not a connect."""
    client = _clients.get(settings.REDIS_URL)
    if client is None:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
        _clients[settings.REDIS_URL] = client
    return client


def api_key_bucket_take(*, key_id: str, limits: TierLimits) -> BucketAnswer:
    """One request of an API key: allowed while its bucket has a token (refilled at the tier's rate
    up to its burst); refused with the seconds until the next token otherwise."""
    try:
        allowed, tokens, wait = _redis().eval(
            _BUCKET, 1, f"bmc:rate:{key_id}", limits.requests_per_second, limits.burst
        )
    except redis.RedisError as error:
        logger.warning("rate limit not checked: Redis unavailable", extra={"error": str(error)})
        return BucketAnswer(allowed=True, remaining=limits.burst, retry_after=0)
    return BucketAnswer(
        allowed=bool(allowed),
        remaining=max(0, math.floor(float(tokens))),
        retry_after=0 if allowed else max(1, math.ceil(float(wait))),
    )


# --- usage ------------------------------------------------------------------------------------


def _day_key(tenant_id: int, day: date) -> str:
    return f"bmc:usage:{tenant_id}:{day.isoformat()}"


def _month_key(tenant_id: int, day: date) -> str:
    return f"bmc:usage:{tenant_id}:{day:%Y-%m}"


def _today() -> date:
    return timezone.localdate()


def usage_count(*, tenant_id: int, kind: str, amount: int = 1, cost_usd: Decimal | float = 0) -> None:
    """Count usage on the day's and the month's hash (one round trip)."""
    if kind not in KINDS:
        raise ValueError(f"unknown usage kind {kind!r}; one of {KINDS}")
    today = _today()
    try:
        pipe = _redis().pipeline(transaction=False)
        for key in (_day_key(tenant_id, today), _month_key(tenant_id, today)):
            pipe.hincrby(key, kind, amount)
            if cost_usd:
                pipe.hincrby(key, COST_FIELD, round(Decimal(str(cost_usd)) * 1_000_000))
            pipe.expire(key, USAGE_TTL)
        pipe.execute()
    except redis.RedisError as error:
        logger.warning("usage not counted: Redis unavailable", extra={"error": str(error), "kind": kind})


def usage_count_on_commit(*, tenant_id: int, kind: str, amount: int = 1) -> None:
    """Counted once the work it counts is stored: a rolled back message counts nothing."""
    transaction.on_commit(lambda: usage_count(tenant_id=tenant_id, kind=kind, amount=amount))


def _read(key: str) -> dict[str, int]:
    try:
        raw = _redis().hgetall(key)
    except redis.RedisError as error:
        logger.warning("usage not read: Redis unavailable", extra={"error": str(error)})
        return {}
    return {k.decode(): int(v) for k, v in raw.items()}


def usage_today(*, tenant_id: int) -> dict[str, int]:
    return _read(_day_key(tenant_id, _today()))


def usage_this_month(*, tenant_id: int) -> dict[str, int]:
    return _read(_month_key(tenant_id, _today()))


@dataclass(frozen=True)
class OverLimit:
    kind: str
    limit: int
    used: int
    retry_after: int
    period: str  # "day" or "month"

    @property
    def resets_at(self) -> datetime:
        return timezone.now() + timedelta(seconds=self.retry_after)

    @property
    def message(self) -> str:
        return (
            f"The {self.kind.replace('_', ' ')} limit of this company's tier is {self.limit} per {self.period} "
            f"and {self.used} were used; it resets in {self.retry_after} seconds. A higher tier allows more."
        )


def _seconds_to_next(period: str, now: datetime) -> int:
    local = timezone.localtime(now)
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        following = start + timedelta(days=1)
    else:
        first = start.replace(day=1)
        following = (first + timedelta(days=32)).replace(day=1)
    following = timezone.make_aware(following.replace(tzinfo=None))  # local midnight, DST-safe
    return max(1, math.ceil((following - local).total_seconds()))


def usage_over_limit(*, tenant: Tenant, kind: str, adding: int = 1) -> OverLimit | None:
    """Would `adding` more of `kind` go over the tenant's tier? Messages count per day, documents
    and model tokens per month."""
    limits = tier_limits(tenant.tier)
    limit, period = {
        "messages": (limits.messages_per_day, "day"),
        "documents": (limits.documents_per_month, "month"),
        "model_tokens": (limits.model_tokens_per_month, "month"),
    }[kind]
    if limit is None:
        return None
    used = (usage_today if period == "day" else usage_this_month)(tenant_id=tenant.pk).get(kind, 0)
    if used + adding <= limit:
        return None
    return OverLimit(kind, limit, used, _seconds_to_next(period, timezone.now()), period)


def usage_flush(*, days: int = 2) -> int:
    """Copy the Redis counts of the last `days` days into TenantUsage rows. Where the rows hold
    more than Redis (Redis restarted empty), Redis gets the difference back, the day's and the
    month's, so the limits count from what was really used. Returns the rows written."""
    today = _today()
    written = 0
    for tenant_id in Tenant.objects.values_list("pk", flat=True):
        for back in range(days):
            day = today - timedelta(days=back)
            counted = _read(_day_key(tenant_id, day))
            row = TenantUsage.objects.filter(tenant_id=tenant_id, day=day).first()
            if not counted and row is None:
                continue
            merged = {field: max(counted.get(field, 0), _row_counts(row).get(field, 0)) for field in FIELDS}
            _redis_catch_up(_day_key(tenant_id, day), counted, merged)
            TenantUsage.objects.update_or_create(tenant_id=tenant_id, day=day, defaults=_row_fields(merged))
            written += 1
        month = TenantUsage.objects.filter(tenant_id=tenant_id, day__gte=today.replace(day=1), day__lte=today)
        stored = {field: 0 for field in FIELDS}
        for row in month:
            for field, amount in _row_counts(row).items():
                stored[field] += amount
        counted = _read(_month_key(tenant_id, today))
        _redis_catch_up(_month_key(tenant_id, today), counted, stored)
    return written


FIELDS = (*KINDS, COST_FIELD)


def _row_counts(row: TenantUsage | None) -> dict[str, int]:
    if row is None:
        return {}
    return {
        "messages": row.messages,
        "documents": row.documents,
        "model_tokens": row.model_tokens,
        COST_FIELD: int(row.model_cost * 1_000_000),
    }


def _row_fields(counts: dict[str, int]) -> dict[str, Any]:
    return {
        "messages": counts["messages"],
        "documents": counts["documents"],
        "model_tokens": counts["model_tokens"],
        "model_cost": Decimal(counts[COST_FIELD]) / 1_000_000,
    }


def _redis_catch_up(key: str, counted: dict[str, int], stored: dict[str, int]) -> None:
    missing = {
        field: stored[field] - counted.get(field, 0) for field in stored if stored[field] > counted.get(field, 0)
    }
    if not missing:
        return
    try:
        pipe = _redis().pipeline(transaction=False)
        for field, amount in missing.items():
            pipe.hincrby(key, field, amount)
        pipe.expire(key, USAGE_TTL)
        pipe.execute()
    except redis.RedisError as error:
        logger.warning("usage not restored to Redis", extra={"error": str(error)})
