"""Saves that staff browsers hear of: a message written (in or out), a conversation's state or
seller changed through a save. (Bulk updates push nothing; the page shows them on its next load.)"""

from __future__ import annotations

from django.db.models.signals import post_save
from django.dispatch import receiver

from bmc.conversations.models import Conversation, Message
from bmc.workspace.live import live_conversation_changed


@receiver(post_save, sender=Message, dispatch_uid="workspace-message-live")
def message_saved(sender, instance: Message, created: bool, **kwargs) -> None:
    if created:
        live_conversation_changed(
            tenant_id=instance.tenant_id,
            conversation_id=instance.conversation_id,
            kind="message",
            message_id=instance.pk,
        )


@receiver(post_save, sender=Conversation, dispatch_uid="workspace-conversation-live")
def conversation_saved(sender, instance: Conversation, created: bool, update_fields=None, **kwargs) -> None:
    if created or not update_fields or {"state", "assigned_to"} & set(update_fields):
        live_conversation_changed(tenant_id=instance.tenant_id, conversation_id=instance.pk, kind="state")
