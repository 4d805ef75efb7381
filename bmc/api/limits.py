"""The API's limits by tier: each key's requests per second (DRF throttle, a token bucket in Redis
shared by every web process), and the quotas a request would go over (429 with Retry-After and the
API's error body). Webhooks (WhatsApp, Mercado Pago, Shopify) are not API-key requests: never
throttled here, since their senders retry and then give up on a hook that refuses."""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.throttling import BaseThrottle

from bmc.core.limits import OverLimit, api_key_bucket_take, tier_limits, usage_over_limit
from bmc.core.models import ApiKey, Tenant


class _Refused(exceptions.Throttled):
    """429 with Retry-After; the message is ours whole (DRF's would append its own wait)."""

    def __init__(self, *, wait: int, detail: str):
        exceptions.APIException.__init__(self, detail)
        self.wait = wait


class RateLimited(_Refused):
    default_code = "rate_limited"


class TierRateThrottle(BaseThrottle):
    """An API key may send its tier's requests per second, and a burst above that after a pause."""

    def allow_request(self, request, view) -> bool:
        key = request.auth
        if not isinstance(key, ApiKey):
            return True
        limits = tier_limits(key.tenant.tier)
        answer = api_key_bucket_take(key_id=key.prefix, limits=limits)
        # said on every answer (RequestContextMiddleware writes the headers)
        request._request.rate_limit = (limits, answer)
        if answer.allowed:
            return True
        raise RateLimited(
            wait=answer.retry_after,
            detail=f"Too many requests with this API key: the '{key.tenant.tier}' tier allows "
            f"{limits.requests_per_second:g} per second with bursts of {limits.burst}. "
            f"Send again in {answer.retry_after} s.",
        )

    def wait(self) -> float | None:  # the refusal above carries its own wait
        return None


class QuotaExceeded(_Refused):
    default_code = "quota_exceeded"


def quota_check(*, tenant: Tenant, kind: str, adding: int = 1) -> None:
    """Refuse (429) work that would take the tenant over its tier's quota for `kind`."""
    over: OverLimit | None = usage_over_limit(tenant=tenant, kind=kind, adding=adding)
    if over is not None:
        raise QuotaExceeded(wait=over.retry_after, detail=over.message)
