"""How every source is called: paced under its quota, 429 and 5xx retried (after the
`Retry-After` the source asked for, or a doubling backoff), and what no retry mends raised as
errors the run records and the source's circuit breaker counts."""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import TypeVar

import requests
from django.conf import settings


class SourceError(Exception):
    """A source that failed a run: counted by its circuit breaker."""


class SourceUnavailable(SourceError):
    """The source did not answer, or answered 429/5xx after every retry: the next run may do."""


class SourceRefused(SourceError):
    """The source refused the request (4xx): credentials, permissions, an id that is wrong."""


class RecordRefused(SourceRefused):
    """The source refused one record (a 4xx other than 401, 403 and 429: an answer it does not
    take, a price it finds wrong): that record is refused in the run, the others go on."""


class Pacer:
    """At most `per_minute` requests in any 60 seconds (a sliding window): a run waits rather than
    spend the source's quota and be answered 429."""

    def __init__(self, per_minute: int | None) -> None:
        self.per_minute = per_minute
        self.sent: deque[float] = deque()

    def wait(self) -> None:
        if not self.per_minute:
            return
        now = time.monotonic()
        while self.sent and self.sent[0] <= now - 60:
            self.sent.popleft()
        if len(self.sent) >= self.per_minute:
            pause = self.sent[0] + 60 - now
            time.sleep(pause)
            self.sent.popleft()
        self.sent.append(time.monotonic())


def retry_after_seconds(value: str | None) -> float | None:
    """A `Retry-After` header as seconds, whether given as a number or an HTTP date."""
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
T = TypeVar("T")


def call_with_retries(
    call: Callable[[], T],
    *,
    what: str,
    retryable: Callable[[Exception], tuple[str, float | None, bool] | None],
    pacer: Pacer | None = None,
    idempotent: bool = True,
) -> T:
    """`call()`, made again while it fails in a way `retryable(error)` calls worth a retry (it
    says why, how long the source asked to wait if it did, and whether the source said it did
    nothing: a 429), at most SYNC_HTTP_RETRIES more times. A call that is not `idempotent` (an
    append, a create) is made again only when the source said it did nothing: after a timeout, a
    5xx or a cut answer it may have been done, and the next run reads before it writes again.
    SourceUnavailable when retries run out or the source asks to wait longer than
    SYNC_RETRY_AFTER_MAX; other errors go up as they are."""
    retries = settings.SYNC_HTTP_RETRIES
    for attempt in range(retries + 1):
        if pacer:
            pacer.wait()
        try:
            return call()
        except Exception as error:
            verdict = retryable(error)
            if verdict is None:
                raise
            reason, asked, nothing_done = verdict
        if not idempotent and not nothing_done:
            raise SourceUnavailable(f"{what} {reason}: not sent again, it may have been done")
        if asked is not None and asked > settings.SYNC_RETRY_AFTER_MAX:
            raise SourceUnavailable(f"{what} {reason} and asked to wait {asked:.0f} s")
        if attempt == retries:
            raise SourceUnavailable(f"{what} {reason} ({retries + 1} attempts)")
        time.sleep(asked if asked is not None else _backoff(attempt))
    raise AssertionError("unreachable")


class _Overloaded(Exception):
    def __init__(self, response: requests.Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def request_with_retries(
    send: Callable[[], requests.Response],
    *,
    what: str,
    pacer: Pacer | None = None,
    transient: tuple[type[Exception], ...] = TRANSIENT,
    idempotent: bool = True,
) -> requests.Response:
    """The response of `send()` (one request with `requests`), sent again while the source answers
    429 or 5xx or the connection fails. A 4xx other than 429 is returned for the caller to read."""

    def call() -> requests.Response:
        response = send()
        if response.status_code == 429 or response.status_code >= 500:
            raise _Overloaded(response)
        return response

    def retryable(error: Exception) -> tuple[str, float | None, bool] | None:
        if isinstance(error, _Overloaded):
            status = error.response.status_code
            return f"answered {status}", retry_after_seconds(error.response.headers.get("Retry-After")), status == 429
        if isinstance(error, transient):
            return f"failed: {error.__class__.__name__}", None, False
        return None

    return call_with_retries(call, what=what, retryable=retryable, pacer=pacer, idempotent=idempotent)
