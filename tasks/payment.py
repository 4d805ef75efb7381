"""Tasks of the payment agent, consumed from the `payment` queue."""

from __future__ import annotations

from typing import Any

from agents.conversations.inbound import inbound_payload_outcome
from agents.orders.service import order_get
from agents.payments.mercadopago import payment_link_create, payment_notified
from bmc.conversations.models import InboundPayload
from bmc.core.models import tenant_get
from bmc.queues import Queue
from tasks.base import agent_task, agent_task_load, ping_task

ping = ping_task(Queue.PAYMENT)


@agent_task(Queue.PAYMENT, "tasks.payment.create_link", soft_time_limit=40, time_limit=60, retry_backoff=5)
def create_link(self, agent_task_id: str) -> dict[str, Any]:
    """payload: {order_id}: its payment link (none while Mercado Pago is not configured)."""
    task = agent_task_load(agent_task_id)
    return payment_link_create(order=order_get(tenant_id=task.tenant_id, order_id=task.payload["order_id"]))


@agent_task(Queue.PAYMENT, "tasks.payment.read_notification", soft_time_limit=40, time_limit=60, retry_backoff=5)
def read_notification(self, agent_task_id: str) -> dict[str, Any]:
    """payload: {payload_id, payment_id}: the payment fetched and applied once; the stored
    notification says what came of it."""
    task = agent_task_load(agent_task_id)
    payload = tenant_get(InboundPayload.objects.all(), tenant_id=task.tenant_id, pk=task.payload["payload_id"])
    result = payment_notified(tenant=task.tenant, payment_id=str(task.payload["payment_id"]))
    outcome = {
        "applied": InboundPayload.Outcome.ACCEPTED,
        "recorded": InboundPayload.Outcome.ACCEPTED,
        "duplicate": InboundPayload.Outcome.DUPLICATE,
        "ignored": InboundPayload.Outcome.IGNORED,
    }[result["outcome"]]
    inbound_payload_outcome(payload=payload, outcome=outcome, error=result.get("reason", ""))
    return result
