"""Tasks of the data sync agent, consumed from the `datasync` queue."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings

from agents.datasync.runs import sync_run_execute, sync_scan
from agents.quotes.catalog import catalog_import as catalog_import_csv
from bmc.queues import Queue
from tasks.base import agent_task, agent_task_load, ping_task

ping = ping_task(Queue.DATASYNC)


@agent_task(Queue.DATASYNC, "tasks.datasync.catalog_import", soft_time_limit=120, time_limit=180)
def catalog_import(self, agent_task_id: str) -> dict[str, Any]:
    """payload: {"csv": "<text>"} or {"path": "<file under data/>"}; defaults to the demo catalog."""
    task = agent_task_load(agent_task_id)
    payload = task.payload or {}
    if "csv" in payload:
        return catalog_import_csv(tenant=task.tenant, csv_text=payload["csv"], source=f"task {agent_task_id}")
    path = _data_path(payload.get("path"))
    return catalog_import_csv(tenant=task.tenant, csv_text=path.read_text(encoding="utf-8"), source=str(path.name))


def _data_path(name: str | None) -> Path:
    """Only files inside the project's data/ folder can be imported by name."""
    if not name:
        return settings.DEMO_CATALOG_PATH
    data_dir = settings.DEMO_CATALOG_PATH.parent.resolve()
    path = (data_dir / name).resolve()
    if data_dir not in path.parents or not path.is_file():
        raise ValueError(f"payload.path '{name}' is not a file in data/: give a file name there or inline 'csv'.")
    return path


@agent_task(Queue.DATASYNC, "tasks.datasync.sync_run", soft_time_limit=900, time_limit=960, max_retries=0)
def sync_run(self, agent_task_id: str) -> dict[str, Any]:
    """A sync run (payload: {"run_id"}); a source that fails is the run's failure, not retried here:
    its client already retried, and the next scheduled run comes."""
    task = agent_task_load(agent_task_id)
    return sync_run_execute(tenant_id=task.tenant_id, run_id=task.payload["run_id"])


@agent_task(Queue.DATASYNC, "tasks.datasync.scan", soft_time_limit=50, time_limit=60, max_retries=0)
def scan(self) -> dict[str, Any]:
    return sync_scan()


@agent_task(Queue.DATASYNC, "tasks.datasync.shopify_order", soft_time_limit=60, time_limit=90)
def shopify_order(self, agent_task_id: str) -> dict[str, Any]:
    """An order a Shopify webhook delivered (payload: {"payload_id"}), applied once by its id."""
    from agents.datasync.shopify import shopify_webhook_apply  # ShopifyAPI: loaded by the task that needs it

    task = agent_task_load(agent_task_id)
    return shopify_webhook_apply(tenant=task.tenant, payload_id=task.payload["payload_id"])
