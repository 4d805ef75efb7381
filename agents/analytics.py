"""Agent performance figures from the task records."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Avg, Count, Max

from bmc.core.models import Tenant
from bmc.jobs.models import AgentTask


def task_stats(*, tenant: Tenant, since: datetime) -> dict[str, Any]:
    rows = (
        AgentTask.objects.filter(tenant=tenant, created_at__gte=since)
        .values("agent", "status")
        .annotate(count=Count("id"), avg_ms=Avg("processing_time_ms"), max_ms=Max("processing_time_ms"))
        .order_by("agent", "status")
    )
    agents: dict[str, dict[str, Any]] = {}
    for row in rows:
        entry = agents.setdefault(row["agent"], {"total": 0, "by_status": {}, "avg_processing_ms": None})
        entry["total"] += row["count"]
        entry["by_status"][row["status"]] = row["count"]
        if row["status"] == AgentTask.Status.COMPLETED and row["avg_ms"] is not None:
            entry["avg_processing_ms"] = round(row["avg_ms"], 1)
            entry["max_processing_ms"] = row["max_ms"]
    return {"since": since.isoformat(), "agents": agents, "total": sum(a["total"] for a in agents.values())}
