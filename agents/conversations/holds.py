"""Who holds a conversation: whoever writes its dialogue (a turn, or the answer to alternatives)
holds it with one conditional UPDATE, and lets go when done; a holder silent for TURN_STALE has
gone, and its hold may be taken over."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from bmc.conversations.models import Conversation
from bmc.core.models import tenant_get

TURN_STALE = timedelta(seconds=60)


class ConversationBusy(Exception):
    """A turn holds the conversation: what wanted to write its dialogue tries again shortly."""


def hold_take(conversation_id: int, token: str, *, tenant_id: int) -> bool:
    """Hold the conversation with one conditional UPDATE: free, or held by a holder gone stale.
    Whoever writes the dialogue holds it: turns, and the answer to alternatives. Only a
    conversation of the tenant: another's id raises NotInTenant and holds nothing."""
    now = timezone.now()
    free = Q(turn_owner="") | Q(turn_started_at__isnull=True) | Q(turn_started_at__lt=now - TURN_STALE)
    mine = Conversation.objects.filter(pk=conversation_id, tenant_id=tenant_id)
    if mine.filter(free).update(turn_owner=token, turn_started_at=now):
        return True
    tenant_get(mine, tenant_id=tenant_id, pk=conversation_id)  # raises when it is not the tenant's
    return False


def hold_release(conversation_id: int, token: str) -> None:
    """Let go of the conversation, if this holder still holds it."""
    Conversation.objects.filter(pk=conversation_id, turn_owner=token).update(turn_owner="", turn_started_at=None)


def hold_token(holder: str) -> str:
    """A turn's claim on a conversation, naming who holds it (a worker's node name), so that a
    worker started again can let go of what its previous run held when it died."""
    return f"{holder[:31]}|{uuid.uuid4().hex}" if holder else uuid.uuid4().hex


def conversation_holds_release(*, holder: str) -> int:
    """A worker (re)started under this name holds no conversation: claims its previous run left
    behind are let go now instead of going stale after TURN_STALE. Returns how many."""
    return Conversation.objects.filter(turn_owner__startswith=f"{holder[:31]}|").update(
        turn_owner="", turn_started_at=None
    )
