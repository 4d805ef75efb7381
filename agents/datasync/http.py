"""How every source is called: paced under its quota, 429 and 5xx retried (after the
`Retry-After` the source asked for, or a doubling backoff), and what no retry mends raised as
errors the run records and the source's circuit breaker counts."""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable
from email.utils import parsedate_to_datetime

import requests
from django.conf import settings


class SourceError(Exception):
    """A source that failed a run: counted by its circuit breaker."""


class SourceUnavailable(SourceError):
    """The source did not answer, or answered 429/5xx after every retry: the next run may do."""


class SourceRefused(SourceError):
    """The source refused the request (4xx): credentials, permissions, an id that is wrong."""


class Pacer:
    """At most `per_minute` requests in any 60 seconds (a sliding window): a run waits rather than
    spend the source's quota and be answered 429."""

    def __init__(self, per_minute: int | None) -> None:
        self.per_minute = per_minute
        self.sent: deque[float] = deque()
        self.waited = 0.0

    def wait(self) -> None:
        if not self.per_minute:
            return
        now = time.monotonic()
        while self.sent and self.sent[0] <= now - 60:
            self.sent.popleft()
        if len(self.sent) >= self.per_minute:
            pause = self.sent[0] + 60 - now
            self.waited += pause
            time.sleep(pause)
            self.sent.popleft()
        self.sent.append(time.monotonic())


def retry_after_seconds(response: requests.Response) -> float | None:
    """`Retry-After` as seconds, whether given as a number or an HTTP date."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _backoff(attempt: int) -> float:
    base = settings.SYNC_BACKOFF_SECONDS * 2**attempt
    return min(base, 30.0) * (0.5 + random.random() / 2)


TRANSIENT = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)


def request_with_retries(
    send: Callable[[], requests.Response],
    *,
    what: str,
    pacer: Pacer | None = None,
    transient: tuple[type[Exception], ...] = TRANSIENT,
) -> requests.Response:
    """The response of `send()` (one request), sent again while the source answers 429 or 5xx or
    the connection fails, at most SYNC_HTTP_RETRIES more times. A 4xx other than 429 is returned
    for the caller to read; SourceUnavailable when retries run out or the source asks to wait
    longer than SYNC_RETRY_AFTER_MAX."""
    retries = settings.SYNC_HTTP_RETRIES
    for attempt in range(retries + 1):
        if pacer:
            pacer.wait()
        try:
            response = send()
        except transient as error:
            reason, wait = f"{what}: {error.__class__.__name__}", _backoff(attempt)
        else:
            status = response.status_code
            if status != 429 and status < 500:
                return response
            reason = f"{what} answered {status}"
            asked = retry_after_seconds(response)
            if asked is not None and asked > settings.SYNC_RETRY_AFTER_MAX:
                raise SourceUnavailable(f"{reason} and asked to wait {asked:.0f} s")
            wait = asked if asked is not None else _backoff(attempt)
        if attempt == retries:
            raise SourceUnavailable(f"{reason} ({retries + 1} attempts)")
        time.sleep(wait)
    raise AssertionError("unreachable")
