"""Tasks of the inventory agent, consumed from the `inventory` queue."""

from __future__ import annotations

from typing import Any

from agents.orders.service import order_get, order_stock_reserve
from bmc.queues import Queue
from tasks.base import agent_task, agent_task_load, ping_task

ping = ping_task(Queue.INVENTORY)


@agent_task(Queue.INVENTORY, "tasks.inventory.reserve_stock", soft_time_limit=30, time_limit=45)
def reserve_stock(self, agent_task_id: str) -> dict[str, Any]:
    """payload: {order_id}: its stock reserved, all or nothing; short, staff told what is missing."""
    task = agent_task_load(agent_task_id)
    return order_stock_reserve(order=order_get(tenant_id=task.tenant_id, order_id=task.payload["order_id"]))
