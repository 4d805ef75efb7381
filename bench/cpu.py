"""Where the CPU goes during a benchmark: CPU seconds per part of the system, read from /proc.

Parts: each worker named by the caller (its main process and its pool apart), gunicorn,
PostgreSQL, Redis, and the benchmark script itself. A process that ends between two readings (a
pool process replaced, a database connection closed) is missed, so the figures are a lower bound.
"""

from __future__ import annotations

import os
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def _part(pid: int, parent: int, command: str, workers: dict[int, str]) -> str | None:
    if pid == os.getpid():
        return "bench (clients, polls)"
    if pid in workers:
        return f"{workers[pid]}: main process"
    if parent in workers:
        return f"{workers[parent]}: pool"
    if "gunicorn" in command:
        return "gunicorn"
    if "postgres" in command:
        return "postgresql"
    if "redis-server" in command:
        return "redis"
    return None


def cpu_seconds(workers: dict[int, str]) -> dict[int, tuple[str, float]]:
    """CPU seconds used so far by each process of the system, with its part. `workers` names the
    main process of each Celery worker to tell apart."""
    processes: dict[int, tuple[str, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        part = _part(int(entry.name), int(fields[1]), command, workers)
        if part:
            processes[int(entry.name)] = (part, (int(fields[11]) + int(fields[12])) / TICK)
    return processes


def cpu_used(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]) -> dict[str, float]:
    """CPU seconds per part between two readings."""
    used: dict[str, float] = {}
    for pid, (part, seconds) in after.items():
        earlier = before.get(pid)
        used[part] = used.get(part, 0.0) + seconds - (earlier[1] if earlier and earlier[0] == part else 0.0)
    return used


def per_item_ms(used: dict[str, float], items: int) -> dict[str, float]:
    """CPU milliseconds per item (document, message), by part, largest first; two cores give
    2,000 ms a second."""
    rows = sorted(used.items(), key=lambda row: -row[1])
    return {part: round(1000 * seconds / items, 1) for part, seconds in rows} | {
        "total": round(1000 * sum(used.values()) / items, 1)
    }
