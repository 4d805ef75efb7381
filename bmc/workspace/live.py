"""What staff see change without reloading: a conversation's new message or new state is pushed
to the company's staff browsers (consumers.py) through the Channels layer
(channels-redis on the broker's Redis). A push is a courtesy: one that fails is logged and the
work that made it goes on (the page shows the truth on its next load)."""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

log = logging.getLogger(__name__)


def live_group(tenant_id: int) -> str:
    """The Channels group of one company's staff browsers."""
    return f"tenant-{tenant_id}"


def live_publish(*, tenant_id: int, event: dict) -> None:
    """Pushes `event` (JSON: its `type` and ids; the browser reads the rest from the page) to the
    company's staff once the current transaction commits."""
    transaction.on_commit(lambda: _send(tenant_id, event))


def live_conversation_changed(
    *, tenant_id: int, conversation_id: int, kind: str, message_id: int | None = None
) -> None:
    live_publish(
        tenant_id=tenant_id,
        event={"type": kind, "conversation": conversation_id, "message": message_id},
    )


def _send(tenant_id: int, event: dict) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(live_group(tenant_id), {"type": "live.event", "event": event})
    except Exception as exc:  # a push never fails the work that made it
        log.warning("live push of %s to tenant %s failed: %s", event.get("type"), tenant_id, exc)
