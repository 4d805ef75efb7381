"""Real worker processes on the real broker: what a task goes through, end to end."""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis
from django.utils import timezone

from bmc.celery import app as celery_app
from bmc.health import beat_tick_record
from bmc.jobs.models import AgentMessage, AgentTask
from tasks.orchestrator import reap_tasks
from tests.conftest import wait_for

pytestmark = pytest.mark.worker


def finished(task_id: str) -> AgentTask | None:
    task = AgentTask.objects.get(task_id=task_id)
    return task if task.is_terminal else None


def test_task_posted_over_the_api_runs_on_its_queue_and_completes(api, tenant, start_worker):
    start_worker(("datasync",))
    response = api.post("/api/v1/tasks", {"task_type": "datasync.catalog_import", "payload": {}}, format="json")
    assert response.status_code == 202
    task_id = response.json()["task_id"]

    task = wait_for(lambda: finished(task_id))
    assert task.status == "completed", task.error
    assert task.result == {"version": 1, "created": True, "products": 35}
    assert task.attempts == 1 and task.worker.startswith("test-")
    assert task.processing_time_ms is not None and task.started_at <= task.finished_at
    body = api.get(f"/api/v1/tasks/{task_id}").json()
    assert body["status"] == "completed" and body["result"]["products"] == 35
    response_message = AgentMessage.objects.get(task=task, type="response")
    assert response_message.reply_to.type == "request" and response_message.from_agent == "datasync"


def test_a_failing_task_is_failed_with_its_reason_and_not_retried(api, tenant, start_worker):
    start_worker(("datasync",))
    bad_csv = "sku,kind\nX,panel\n"
    task_id = api.post(
        "/api/v1/tasks", {"task_type": "datasync.catalog_import", "payload": {"csv": bad_csv}}, format="json"
    ).json()["task_id"]
    task = wait_for(lambda: finished(task_id))
    assert task.status == "failed" and task.attempts == 1
    assert "CatalogError: Missing columns: family" in task.error
    assert AgentMessage.objects.filter(task=task, type="error").count() == 1


def test_a_redelivered_message_of_a_completed_task_runs_nothing(api, tenant, start_worker):
    start_worker(("analytics",))
    task_id = api.post("/api/v1/tasks", {"task_type": "analytics.ping"}, format="json").json()["task_id"]
    first = wait_for(lambda: finished(task_id))
    celery_app.send_task("tasks.analytics.ping", args=[task_id], task_id=task_id, queue="analytics")
    # one worker process, same priority, first in first out: once the next task is done,
    # the duplicate has been consumed
    after = api.post("/api/v1/tasks", {"task_type": "analytics.ping"}, format="json").json()["task_id"]
    wait_for(lambda: finished(after))
    again = AgentTask.objects.get(task_id=task_id)
    assert (again.status, again.attempts, again.result, again.finished_at) == (
        "completed",
        1,
        first.result,
        first.finished_at,
    )


def test_a_critical_task_queued_after_normal_ones_starts_first(api, tenant, start_worker):
    normal = [
        api.post("/api/v1/tasks", {"task_type": "analytics.ping"}, format="json").json()["task_id"] for _ in range(5)
    ]
    critical = api.post("/api/v1/tasks", {"task_type": "analytics.ping", "priority": "critical"}, format="json").json()[
        "task_id"
    ]
    start_worker(("analytics",), concurrency=1)
    wait_for(lambda: all(finished(t) for t in normal + [critical]))
    order = list(
        AgentTask.objects.filter(task_id__in=normal + [critical])
        .order_by("started_at")
        .values_list("task_id", flat=True)
    )
    assert str(order[0]) == critical
    assert [str(t) for t in order[1:]] == normal  # same priority: first in, first out


def test_health_detailed_reports_a_stopped_worker(client, start_worker):
    beat_tick_record()
    worker = start_worker()
    report = client.get("/health/detailed")
    assert report.status_code == 200, report.json()["down"]
    assert all(worker.name in q["workers"] for q in report.json()["checks"]["queues"].values())

    worker.stop()
    report = client.get("/health/detailed")
    assert report.status_code == 503
    body = report.json()
    assert (
        "queue:quote" in body["down"] and body["checks"]["queues"]["quote"]["error"] == "no worker consumes this queue"
    )
    assert body["checks"]["database"]["ok"] and body["checks"]["broker"]["ok"]


def test_reaper_redispatches_a_task_whose_broker_message_was_lost(api, tenant, start_worker, settings):
    task_id = api.post(
        "/api/v1/tasks", {"task_type": "analytics.task_stats", "payload": {"hours": 1}}, format="json"
    ).json()["task_id"]
    AgentTask.objects.filter(task_id=task_id).update(
        queued_at=timezone.now() - timedelta(seconds=settings.REAPER_QUEUED_DEADLINE + 1)
    )
    # past the deadline, but its message still waits in the queue (no worker): a backlog, not a loss
    assert reap_tasks.apply().get() == {
        "redispatched": [],
        "dead": [],
        "turns": [],
        "replies": [],
        "broker_lost": False,
    }

    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    lost = sum(broker.delete(key) for key in broker.keys("analytics*"))
    assert lost >= 1  # the message sat in the queue and is now gone

    assert reap_tasks.apply().get() == {
        "redispatched": [task_id],
        "dead": [],
        "turns": [],
        "replies": [],
        "broker_lost": False,
    }
    start_worker(("analytics",))
    task = wait_for(lambda: finished(task_id))
    assert task.status == "completed" and task.dispatches == 2 and task.attempts == 1
    assert task.result["agents"]["analytics"]["total"] == 1


def test_a_worker_started_again_under_its_name_runs_at_once_what_it_died_running(api, tenant, start_worker, settings):
    """A worker killed mid-task and started again by the supervisor: the task it held is sent
    again when the new process is ready, not after the reaper's grace period."""
    import os

    task_id = api.post("/api/v1/tasks", {"task_type": "analytics.task_stats"}, format="json").json()["task_id"]
    # and one it held reserved, or waiting for a retry's countdown: still `queued` in its record
    held_id = api.post("/api/v1/tasks", {"task_type": "analytics.ping"}, format="json").json()["task_id"]
    name = f"analytics-restarted@{os.uname().nodename}"
    # the previous process had claimed the first, and both messages died with it (unacknowledged)
    AgentTask.objects.filter(task_id=task_id).update(
        status="running", worker=name, attempts=1, started_at=timezone.now()
    )
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    assert sum(broker.delete(key) for key in broker.keys("analytics*")) >= 1

    start_worker(("analytics",), name=name)
    task = wait_for(lambda: finished(task_id), timeout=20)
    assert task.status == "completed" and task.attempts == 2 and task.dispatches == 2
    assert task.worker == name
    held = wait_for(lambda: finished(held_id), timeout=20)  # not after REAPER_QUEUED_DEADLINE
    assert held.status == "completed" and held.dispatches == 2


def test_a_worker_process_keeps_its_database_connection_from_task_to_task(api, tenant, start_worker):
    """Celery's Django fixup reconnects around every task unless told otherwise: on PostgreSQL
    that is a server process forked per task. Counted by the server's own session statistics."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL counts the sessions opened to it; SQLite has none to count")

    def sessions() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
            return cursor.fetchone()[0]

    start_worker(("analytics",))
    warm = api.post("/api/v1/tasks", {"task_type": "analytics.ping"}, format="json").json()["task_id"]
    wait_for(lambda: finished(warm))  # the worker's process has connected once
    before = sessions()
    ids = [
        api.post("/api/v1/tasks", {"task_type": "analytics.ping"}, format="json").json()["task_id"] for _ in range(20)
    ]
    wait_for(lambda: all(finished(task_id) for task_id in ids))
    assert sessions() - before <= 2  # 20 tasks, each claimed and completed in the database
