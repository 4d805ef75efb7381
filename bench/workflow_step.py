"""Benchmark: what a workflow step costs over the bare agent task it runs, in the same run.

    .venv/bin/python bench/workflow_step.py [--steps 40] [--rounds 3]

One process holds the system (bench/inprocess.py: a fresh SQLite database, the embedded Redis or
REDIS_URL, a Celery worker thread on every queue). Per round:

- bare task: `staff.notify` submitted as an agent task `--steps` times, one after the other, each
  waited for (its record completed): the path every agent's work takes (record, broker, worker,
  record);
- workflow: one run of a definition of `--steps` task steps of that same `staff.notify`, chained
  (each step's task, then the advance that records its output and starts the next one).

Prints seconds per bare task and per step, their ratio (the step's overhead), and the median of
the rounds. Not a test.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.inprocess import environment_running, system_prepare, worker_running  # noqa: E402


def wait(predicate, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("the work did not finish in time")
        time.sleep(0.002)


def bare_tasks(tenant, steps: int) -> float:
    from bmc.jobs.models import AgentTask
    from bmc.jobs.submit import task_submit

    started = time.perf_counter()
    for n in range(steps):
        task = task_submit(
            tenant=tenant, task_type="staff.notify", payload={"title": f"bare {n}"}, requested_by="bench"
        )
        wait(lambda task=task: AgentTask.objects.filter(pk=task.pk, status="completed").exists())
    return (time.perf_counter() - started) / steps


def workflow_steps(tenant, steps: int, round_: int) -> float:
    from agents.workflows.definitions import workflow_definition_save
    from agents.workflows.engine import workflow_start
    from bmc.workflows.models import WorkflowRun

    names = [f"s{n}" for n in range(steps)]
    spec = {
        "start": names[0],
        "steps": {
            name: {
                "kind": "task",
                "task_type": "staff.notify",
                "input": {"title": f"r{round_} {name}"},
                "next": names[i + 1] if i + 1 < steps else None,
            }
            for i, name in enumerate(names)
        },
    }
    workflow_definition_save(tenant=tenant, name=f"bench-{steps}", spec=spec)
    started = time.perf_counter()
    run = workflow_start(tenant=tenant, name=f"bench-{steps}", input={})
    wait(lambda: WorkflowRun.objects.filter(pk=run.pk, status__in=WorkflowRun.TERMINAL).exists())
    elapsed = time.perf_counter() - started
    status = WorkflowRun.objects.get(pk=run.pk).status
    if status != "completed":
        raise RuntimeError(f"the run ended {status}")
    return elapsed / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with environment_running(var=ROOT / "var" / "bench-workflow"):
        system_prepare(key_name="bench")
        from bmc.core.models import Tenant

        tenant = Tenant.objects.get(slug="bmc")
        with worker_running():
            bare_tasks(tenant, 3)  # warm: connections, imports
            ratios = []
            for round_ in range(args.rounds):
                bare = bare_tasks(tenant, args.steps)
                step = workflow_steps(tenant, args.steps, round_)
                ratios.append(step / bare)
                print(
                    f"round {round_ + 1}: bare task {bare * 1000:.1f} ms, workflow step {step * 1000:.1f} ms, "
                    f"ratio {step / bare:.2f}"
                )
            print(f"median ratio over {args.rounds} rounds ({args.steps} steps each): {statistics.median(ratios):.2f}")


if __name__ == "__main__":
    main()
