"""Tasks of the inventory agent, consumed from the `inventory` queue."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from agents.inventory.forecast import purchase_suggest
from agents.inventory.purchasing import (
    purchase_order_cancel,
    purchase_order_data,
    purchase_order_draft,
    purchase_order_send,
)
from agents.orders.service import order_get, order_stock_reserve
from bmc.core.models import tenant_get
from bmc.inventory.models import PurchaseOrder
from bmc.queues import Queue
from tasks.base import agent_task, agent_task_load, ping_task

ping = ping_task(Queue.INVENTORY)


@agent_task(Queue.INVENTORY, "tasks.inventory.reserve_stock", soft_time_limit=30, time_limit=45)
def reserve_stock(self, agent_task_id: str) -> dict[str, Any]:
    """payload: {order_id}: its stock reserved, all or nothing; short, staff told what is missing."""
    task = agent_task_load(agent_task_id)
    return order_stock_reserve(order=order_get(tenant_id=task.tenant_id, order_id=task.payload["order_id"]))


def _purchase_order(agent_task_id: str) -> PurchaseOrder:
    task = agent_task_load(agent_task_id)
    return tenant_get(
        PurchaseOrder.objects.select_related("supplier", "warehouse", "tenant"),
        tenant_id=task.tenant_id,
        pk=task.payload["purchase_order_id"],
    )


@agent_task(Queue.INVENTORY, "tasks.inventory.suggest_purchase", soft_time_limit=60, time_limit=90)
def suggest_purchase(self, agent_task_id: str) -> dict[str, Any]:
    """payload: {sku, warehouse}: the lead time's demand forecast and the quantity to buy."""
    task = agent_task_load(agent_task_id)
    return purchase_suggest(tenant_id=task.tenant_id, sku=task.payload["sku"], warehouse=task.payload["warehouse"])


@agent_task(Queue.INVENTORY, "tasks.inventory.draft_purchase", soft_time_limit=30, time_limit=45)
def draft_purchase(self, agent_task_id: str) -> dict[str, Any]:
    """payload: {supplier_id, sku, warehouse, quantity, forecast, reason}: the draft, once per reason."""
    task = agent_task_load(agent_task_id)
    payload = task.payload
    order = purchase_order_draft(
        tenant=task.tenant,
        supplier_id=payload["supplier_id"],
        sku=payload["sku"],
        warehouse=payload["warehouse"],
        quantity=Decimal(str(payload["quantity"])),
        forecast=payload.get("forecast") or {},
        reason=str(payload.get("reason") or ""),
    )
    return purchase_order_data(order)


@agent_task(Queue.INVENTORY, "tasks.inventory.send_purchase", soft_time_limit=40, time_limit=60, retry_backoff=30)
def send_purchase(self, agent_task_id: str) -> dict[str, Any]:
    """payload: {purchase_order_id}: to the supplier, once."""
    return purchase_order_send(order=_purchase_order(agent_task_id))


@agent_task(Queue.INVENTORY, "tasks.inventory.cancel_purchase", soft_time_limit=30, time_limit=45)
def cancel_purchase(self, agent_task_id: str) -> dict[str, Any]:
    return {"cancelled": purchase_order_cancel(order=_purchase_order(agent_task_id))}
