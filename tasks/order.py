"""Tasks of the order agent, consumed from the `order` queue: the steps of an order's workflow."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from agents.orders.service import (
    order_cancel,
    order_data,
    order_from_quote,
    order_get,
    order_mark_paid,
    order_paid_follow,
    order_payment_last,
    order_payment_remind,
    order_payment_request,
)
from bmc.orders.models import Order
from bmc.queues import Queue
from tasks.base import agent_task, agent_task_load, ping_task

ping = ping_task(Queue.ORDER)


def _order(agent_task_id: str) -> tuple[Any, Order]:
    task = agent_task_load(agent_task_id)
    return task, order_get(tenant_id=task.tenant_id, order_id=task.payload["order_id"])


@agent_task(Queue.ORDER, "tasks.order.create_order", soft_time_limit=30, time_limit=45)
def create_order(self, agent_task_id: str) -> dict[str, Any]:
    """payload: {quote_id, source}: the quote's order (the one it has, when this runs again)."""
    task = agent_task_load(agent_task_id)
    order = order_from_quote(
        tenant=task.tenant,
        quote_id=task.payload["quote_id"],
        source=task.payload.get("source") or Order.Source.CONVERSATION,
        existing_ok=True,
    )
    return order_data(order)


@agent_task(Queue.ORDER, "tasks.order.request_payment", soft_time_limit=30, time_limit=45)
def request_payment(self, agent_task_id: str) -> dict[str, Any]:
    _, order = _order(agent_task_id)
    return order_payment_request(order=order)


@agent_task(Queue.ORDER, "tasks.order.remind_payment", soft_time_limit=30, time_limit=45)
def remind_payment(self, agent_task_id: str) -> dict[str, Any]:
    _, order = _order(agent_task_id)
    return order_payment_remind(order=order)


@agent_task(Queue.ORDER, "tasks.order.mark_paid", soft_time_limit=30, time_limit=45)
def mark_paid(self, agent_task_id: str) -> dict[str, Any]:
    """The order's last payment.received: paid when it covers the total; otherwise staff check it."""
    _, order = _order(agent_task_id)
    payment = order_payment_last(order=order)
    if payment is None:
        return {"paid": False, "reason": "no payment received for it"}
    try:
        amount = Decimal(str(payment.get("amount")))
    except InvalidOperation:
        amount = Decimal(0)
    return order_mark_paid(
        order=order, amount=amount, currency=str(payment.get("currency") or ""), reference=str(payment["event_id"])
    )


@agent_task(Queue.ORDER, "tasks.order.paid_follow", soft_time_limit=30, time_limit=45)
def paid_follow(self, agent_task_id: str) -> dict[str, Any]:
    _, order = _order(agent_task_id)
    return order_paid_follow(order=order)


@agent_task(Queue.ORDER, "tasks.order.cancel_order", soft_time_limit=30, time_limit=45)
def cancel_order(self, agent_task_id: str) -> dict[str, Any]:
    task, order = _order(agent_task_id)
    reason = str(task.payload.get("reason") or "")
    # the order's own workflow cancels it here: that run ends by itself, it is not stopped
    return {"cancelled": order_cancel(order=order, reason=reason, workflow_too=False)}
