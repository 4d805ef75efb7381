"""Tasks of the conversation agent, consumed from the `conversation` queue."""

from __future__ import annotations

from typing import Any

from celery import signals
from django.conf import settings

from agents.conversations.holds import ConversationBusy
from agents.conversations.replies import quote_options_reply
from agents.conversations.turn import conversation_turn
from agents.nlu.classifier import intent_model
from bmc.queues import Queue
from tasks.base import agent_task, agent_task_load, ping_task

ping = ping_task(Queue.CONVERSATION)
# A turn that keeps finding another under way stops looking after this many tries (each is an
# attempt, and TASK_MAX_ATTEMPTS would call it lost): the other turn answers its message.
TURN_WAIT_RETRIES = 5


@signals.worker_init.connect
def intent_model_warm(sender=None, **_: Any) -> None:
    """A worker of the conversation queue loads the intent model (trains it, on a first start)
    before it takes a message: its pool's processes share it, and no customer waits for it."""
    app = getattr(sender, "app", None)
    if app is not None and Queue.CONVERSATION.value in app.amqp.queues.consume_from:
        intent_model()


@agent_task(Queue.CONVERSATION, "tasks.conversation.process_message", soft_time_limit=30, time_limit=45)
def process_message(self, agent_task_id: str) -> dict[str, Any]:
    """payload: {conversation_id, message_id}: answer the conversation's unanswered messages."""
    task = agent_task_load(agent_task_id)
    result = conversation_turn(
        tenant_id=task.tenant_id,
        conversation_id=task.payload["conversation_id"],
        public_base_url=settings.PUBLIC_BASE_URL,
        trace_id=task.trace_id,
        holder=self.request.hostname or "",
    )
    if result.skipped and self.request.retries < TURN_WAIT_RETRIES:
        # Another turn is under way and answers this message too; look again shortly in case that
        # turn's worker died (a worker started again lets go of its old claims; others go stale
        # after TURN_STALE, and the reaper's sweep answers what is left).
        raise self.retry(countdown=2, max_retries=TURN_WAIT_RETRIES)
    return result.as_dict()


@agent_task(Queue.CONVERSATION, "tasks.conversation.reply_options", soft_time_limit=30, time_limit=45)
def reply_options(
    self,
    outcomes: list[dict[str, Any]],
    conversation_id: int,
    option_group: str,
    tenant_id: int,
    trace_id: str,
    answers: list[int] | None = None,
) -> dict[str, Any]:
    """The chord's callback: every alternative is priced; one reply with all of them."""
    try:
        reply_id = quote_options_reply(
            tenant_id=tenant_id,
            conversation_id=conversation_id,
            option_group=option_group,
            outcomes=outcomes,
            base_url=settings.PUBLIC_BASE_URL,
            answers=answers,
            trace_id=trace_id,
            holder=self.request.hostname or "",
        )
    except ConversationBusy:
        raise self.retry(countdown=1, max_retries=90) from None  # the turn's hold goes stale after 60 s
    return {"reply": reply_id, "outcomes": outcomes}
