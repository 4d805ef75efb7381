"""What is left when a turn does not finish: a cancelled task's message withdrawn, messages a crash
left unanswered or unsent, replies the channel kept refusing handed to staff."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import ngettext

from agents.conversations.plan import NO_TEXT_REPLIES
from agents.outbound import outbound_failed
from bmc.conversations.models import Message
from bmc.jobs.models import AgentTask
from bmc.jobs.submit import task_cancel as jobs_task_cancel


def task_cancel(*, task: AgentTask) -> bool:
    """Cancel a task that has not finished (jobs' task_cancel); a customer's message whose turn is
    cancelled is withdrawn with it, so no later turn or sweep answers it."""
    if task.task_type != "conversation.process_message":
        return jobs_task_cancel(task=task)
    return jobs_task_cancel(task=task, also=lambda: message_withdraw(message_id=task.payload.get("message_id")))


def message_withdraw(*, message_id: int | None) -> bool:
    """An inbound message whose processing was cancelled: marked answered and cancelled, so no
    turn and no sweep answers it later. A message already answered stays as it is."""
    return bool(
        Message.objects.filter(pk=message_id, direction=Message.Direction.INBOUND, processed_at__isnull=True).update(
            processed_at=timezone.now(), delivery_status=Message.DeliveryStatus.CANCELLED
        )
    )


def messages_stranded(*, now, older_than: timedelta) -> tuple[list[tuple[int, int, int]], list[tuple[int, int]]]:
    """Work a crash left behind, with no task of its own still alive: conversations whose inbound
    messages nobody answered, as (tenant_id, conversation_id, last message id), and replies never
    sent, as (tenant_id, message_id)."""
    active = AgentTask.Status.PENDING, AgentTask.Status.QUEUED, AgentTask.Status.RUNNING
    cutoff = now - older_than
    unanswered: dict[int, tuple[int, int, int]] = {}
    for tenant_id, conversation_id, message_id in (
        Message.objects.filter(direction=Message.Direction.INBOUND, processed_at__isnull=True, created_at__lt=cutoff)
        # nothing to answer in a photo or a document without a caption; a voice note is answered
        .exclude(Q(text="") & ~Q(raw_payload__type__in=list(NO_TEXT_REPLIES)))
        .order_by("pk")
        .values_list("tenant_id", "conversation_id", "pk")
    ):
        unanswered[conversation_id] = (tenant_id, conversation_id, message_id)
    busy = (
        set(
            AgentTask.objects.filter(
                task_type="conversation.process_message",
                status__in=active,
                payload__conversation_id__in=list(unanswered),
            ).values_list("payload__conversation_id", flat=True)
        )
        if unanswered
        else set()
    )
    turns = [entry for conversation_id, entry in unanswered.items() if conversation_id not in busy]

    unsent = list(
        Message.objects.filter(
            direction=Message.Direction.OUTBOUND, delivery_status=Message.DeliveryStatus.PENDING, created_at__lt=cutoff
        ).values_list("tenant_id", "pk")
    )
    sending = (
        set(
            AgentTask.objects.filter(
                task_type="outbound.send_message", status__in=active, payload__message_id__in=[pk for _, pk in unsent]
            ).values_list("payload__message_id", flat=True)
        )
        if unsent
        else set()
    )
    return turns, [(tenant_id, pk) for tenant_id, pk in unsent if pk not in sending]


def messages_given_up(*, max_attempts: int) -> list[int]:
    """Outbound messages still pending after `max_attempts` sends (the channel kept failing):
    marked failed, each with a task for staff to reach the customer another way."""
    stuck = list(
        Message.objects.filter(
            direction=Message.Direction.OUTBOUND,
            delivery_status=Message.DeliveryStatus.PENDING,
            send_attempts__gte=max_attempts,
        ).select_related("conversation__customer")
    )
    given_up = []
    for message in stuck:
        if Message.objects.filter(pk=message.pk, delivery_status=Message.DeliveryStatus.PENDING).update(
            delivery_status=Message.DeliveryStatus.FAILED, error_code="gave_up"
        ):
            failed = ngettext("%(count)s send failed", "%(count)s sends failed", message.send_attempts) % {
                "count": message.send_attempts
            }
            outbound_failed(message=message, error_code="gave_up", detail=failed)
            given_up.append(message.pk)
    return given_up
