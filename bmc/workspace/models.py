"""The workspace's own records: which company a staff member works for, and how far each of them
has read each conversation (the inbox's unread marks)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from bmc.conversations.models import Conversation
from bmc.core.models import Tenant


class StaffMember(models.Model):
    """A staff user's company. Without one, a user works for the default company."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_member", verbose_name=_("user")
    )
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", verbose_name=_("company"))

    class Meta:
        verbose_name = _("staff member")
        verbose_name_plural = _("staff members")

    def __str__(self) -> str:
        return f"{self.user} ({self.tenant})"


class ConversationRead(models.Model):
    """The last message a staff member has seen of a conversation: newer customer messages are
    unread for them."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="+")
    last_message_id = models.BigIntegerField(default=0)
    read_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("conversation read")
        verbose_name_plural = _("conversations read")
        constraints = [models.UniqueConstraint(fields=["user", "conversation"], name="conversation_read_once")]
