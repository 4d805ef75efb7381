"""Tasks of the catalog agent, consumed from the `catalog` queue (the conversation turn asks the
same service in its own process, without a hop)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from agents.catalog.answers import catalog_answer, product_search
from agents.nlu.parse import nlu_parse
from bmc.queues import Queue
from tasks.base import agent_task, agent_task_load, ping_task

ping = ping_task(Queue.CATALOG)


@agent_task(Queue.CATALOG, "tasks.catalog.search", soft_time_limit=20, time_limit=30)
def search(self, agent_task_id: str) -> dict[str, Any]:
    """payload: {query, limit}: the closest products, best first."""
    task = agent_task_load(agent_task_id)
    limit = min(int(task.payload.get("limit") or 5), 20)
    matches = product_search(tenant=task.tenant, query=str(task.payload.get("query") or ""), limit=limit)
    return {"products": [asdict(match) for match in matches]}


@agent_task(Queue.CATALOG, "tasks.catalog.answer", soft_time_limit=20, time_limit=30)
def answer(self, agent_task_id: str) -> dict[str, Any]:
    """payload: {text}: the answer, or {answered: false} when a person has to."""
    task = agent_task_load(agent_task_id)
    text = str(task.payload.get("text") or "")
    result = catalog_answer(tenant=task.tenant, text=text, entities=nlu_parse(text=text)["entities"])
    return {"answered": False} if result is None else {"answered": True, **result}
