"""Workflow runs on real workers and a real beat: every step kind to the end; then runs whose
worker is killed (kill -9, main process and pool) at each step, whose beat is killed, and whose
broker comes back empty, each ending as the first did with every step's side effect once."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter

import pytest
import redis

from agents.workflows.definitions import workflow_definition_save
from bmc.health import BROKER_EPOCH_KEY
from bmc.sales.models import StaffTask
from bmc.workflows.models import WorkflowRun, WorkflowStep
from tests.conftest import queues_purge, wait_for
from tests.flows.test_beat import beat_running, beat_start, beat_stop

pytestmark = pytest.mark.worker

SPEC = {
    "start": "first",
    "steps": {
        "first": {"kind": "task", "task_type": "staff.notify", "input": {"title": "$input.name"}, "next": "pause"},
        "pause": {"kind": "delay", "seconds": 1, "next": "big?"},
        "big?": {"kind": "condition", "if": "input.amount > 1000", "then": "both", "else": None},
        "both": {
            "kind": "parallel",
            "branches": {
                "sales": {"task_type": "staff.notify", "input": {"title": "$input.sales"}},
                "depot": {"task_type": "staff.notify", "input": {"title": "depósito"}},
            },
            "next": "paid",
        },
        "paid": {"kind": "wait_event", "event": "payment.received", "subject": "$input.order", "next": "last"},
        "last": {
            "kind": "task",
            "task_type": "staff.notify",
            "input": {"title": "$steps.paid.data.note"},
            "next": None,
        },
    },
}
STEPS = ["first", "pause", "big?", "both", "paid", "last"]
# beat's scans every second: a delay of 1 s ends within about 2
FAST_BEAT = {"WORKFLOWS_SCAN_INTERVAL": "1", "EVENTS_SCAN_INTERVAL": "2", "REAPER_INTERVAL": "2"}


@pytest.fixture
def workflow(tenant):
    workflow_definition_save(tenant=tenant, name="kill-me", spec=SPEC)


def start(api, n: int) -> int:
    body = {
        "workflow": "kill-me",
        "input": {"name": f"run {n}", "sales": f"ventas run {n}", "amount": 5000, "order": f"order:{n}"},
    }
    response = api.post("/api/v1/workflows/runs", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()["id"]


def pay_when_waiting(api, run_id: int, paid: set[int]) -> None:
    waiting = WorkflowStep.objects.filter(run_id=run_id, name="paid", status="waiting").exists()
    if waiting and run_id not in paid:
        body = {"type": "payment.received", "data": {"note": f"pagado {run_id}"}}
        assert api.post(f"/api/v1/workflows/runs/{run_id}/events", body, format="json").status_code == 202
        paid.add(run_id)


def assert_ended_once_each(run_ids: list[int]) -> None:
    for run_id in run_ids:
        run = WorkflowRun.objects.get(pk=run_id)
        assert run.status == "completed", (run_id, run.status, run.error)
        taken = list(run.steps.filter(parent=None).order_by("id").values_list("name", flat=True))
        assert taken == STEPS, (run_id, taken)  # no step started twice
        assert run.context["steps"]["last"]["title"] == f"pagado {run_id}"
    titles = Counter(StaffTask.objects.filter(kind="workflow").values_list("title", flat=True))
    for run_id in run_ids:
        name = WorkflowRun.objects.get(pk=run_id).input["name"]
        assert titles[name] == 1 and titles[f"ventas {name}"] == 1 and titles[f"pagado {run_id}"] == 1
    assert titles["depósito"] == len(run_ids)  # one per run: each step's side effect once


def test_every_step_kind_runs_to_the_end_on_real_workers(api, workflow, start_worker):
    start_worker(("orchestrator",), concurrency=2)
    paid: set[int] = set()
    with beat_running(**FAST_BEAT):
        run_id = start(api, 1)
        wait_for(lambda: all_done(api, [run_id], paid), timeout=60)
    assert_ended_once_each([run_id])
    detail = api.get(f"/api/v1/workflows/runs/{run_id}").json()
    assert [s["status"] for s in detail["steps"]] == ["done"] * len(STEPS)
    assert {b["name"] for b in detail["steps"][3]["branches"]} == {"both.sales", "both.depot"}


def all_done(api, run_ids: list[int], paid: set[int]) -> bool:
    for run_id in run_ids:
        pay_when_waiting(api, run_id, paid)
    return all(run.status == "completed" for run in WorkflowRun.objects.filter(pk__in=run_ids))


def test_runs_end_the_same_with_workers_beat_and_broker_killed_at_each_step(api, workflow, start_worker, settings):
    name = f"kill-{os.getpid()}@test"
    worker = start_worker(("orchestrator",), concurrency=2, name=name)
    paid: set[int] = set()
    kills = Counter()
    beat = beat_start(**FAST_BEAT)
    try:
        run_ids = [start(api, n) for n in range(1, 4)]
        seen = None
        deadline = time.monotonic() + 240
        while not all_done(api, run_ids, paid) and time.monotonic() < deadline:
            progress = list(WorkflowStep.objects.filter(run_id__in=run_ids).values_list("pk", "status"))
            if progress != seen and kills["worker"] < 4:
                seen = progress
                os.killpg(worker.process.pid, signal.SIGKILL)  # the main process and its pool, no goodbye
                worker.process.wait()
                kills["worker"] += 1
                if kills["worker"] == 2:  # beat too
                    os.killpg(beat.pid, signal.SIGKILL)
                    beat.wait()
                    kills["beat"] += 1
                    beat = beat_start(**FAST_BEAT)
                if kills["worker"] == 3:  # and the broker restarted without persistence: queues and epoch gone
                    redis.Redis.from_url(settings.CELERY_BROKER_URL).delete(BROKER_EPOCH_KEY)
                    queues_purge()
                    kills["broker"] += 1
                worker = start_worker(("orchestrator",), concurrency=2, name=name)
            time.sleep(0.2)
    finally:
        beat_stop(beat)
    print(f"resumed {len(run_ids)} of {len(run_ids)} runs after {dict(kills)}")
    assert kills["worker"] >= 3 and kills["beat"] == 1 and kills["broker"] == 1  # as many as the runs took
    assert_ended_once_each(run_ids)
