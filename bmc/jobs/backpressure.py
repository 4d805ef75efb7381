"""Backpressure: work that can wait is held, not piled on a broker queue already over its limit.

A queue deeper than QUEUE_LIMITS[queue] takes no new work that can wait (a customer's turn, a
document, a sync; never a reply already written, a staff action or the orchestrator's own): the
task is recorded `held` and the caller is told so; beat's `release_held` (every
HELD_RELEASE_INTERVAL) publishes held work, oldest and most urgent first, as the queue drains
below its limit. Work held until a moment (a company over its messages of the day, taken from
WhatsApp, which is never refused) is released from that moment on.

The depth is the broker's count of the queue's messages, read at most once a second per process
(one round trip that a burst of submissions shares)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from kombu.exceptions import ChannelError

from bmc.celery import app as celery_app

logger = logging.getLogger(__name__)

DEPTH_TTL = 1.0
_depths: dict[str, tuple[float, int]] = {}


@dataclass(frozen=True)
class Hold:
    """Why a task is held and until when (None: until its queue drains)."""

    reason: str  # "queue" or "quota"
    detail: str
    until: datetime | None = None

    def as_metadata(self) -> dict[str, str | None]:
        return {"reason": self.reason, "detail": self.detail, "until": self.until.isoformat() if self.until else None}


def queue_limit(queue: str) -> int | None:
    return settings.QUEUE_LIMITS.get(queue)


def queue_depth(queue: str, *, fresh: bool = False) -> int | None:
    """Messages waiting in the queue (all priorities), or None when the broker cannot say."""
    now = time.monotonic()
    cached = _depths.get(queue)
    if not fresh and cached and now - cached[0] < DEPTH_TTL:
        return cached[1]
    try:
        with celery_app.connection_for_read() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            depth = conn.default_channel.queue_declare(queue=queue, passive=True).message_count
    except ChannelError:  # never declared: nothing ever waited there
        depth = 0
    except Exception as error:  # the broker away
        logger.warning("queue depth unknown", extra={"queue": queue, "error": str(error)})
        return None
    _depths[queue] = (now, depth)
    return depth


def queue_hold(queue: str) -> Hold | None:
    """A Hold when the queue is over its limit; None when it takes work (or cannot tell: the
    broker away refuses the publish itself, and the reaper sends it later)."""
    limit = queue_limit(queue)
    if limit is None:
        return None
    depth = queue_depth(queue)
    if depth is None or depth < limit:
        return None
    return Hold(
        reason="queue",
        detail=f"The {queue} queue is over its limit ({depth} waiting, limit {limit}): the work is stored and "
        "sent as the queue drains.",
    )


def queues_over_limit() -> dict[str, dict[str, int]]:
    """Every queue with a limit, as /health/detailed tells it: depth, limit and whether it is over."""
    report = {}
    for queue, limit in sorted(settings.QUEUE_LIMITS.items()):
        depth = queue_depth(queue, fresh=True)
        report[queue] = {"depth": depth, "limit": limit, "over": depth is not None and depth >= limit}
    return report
