"""The queues named in bmc.queues are the ones routes, the Procfile and the registry use."""

from __future__ import annotations

from pathlib import Path

from bmc.celery import app
from bmc.jobs.registry import AGENTS, TASK_TYPES
from bmc.queues import ALL_QUEUES, PRIORITY_LEVELS, procfile_lines

ROOT = Path(__file__).resolve().parent.parent


def _registered_tasks() -> dict:
    app.loader.import_default_modules()
    return app.tasks


def test_procfile_is_derived_from_the_queues():
    committed = (ROOT / "Procfile").read_text().strip().splitlines()
    assert committed == procfile_lines(), "Procfile is stale: run `make procfile`"
    workers = {line.split(":")[0]: line for line in committed if line.startswith("worker_")}
    assert sorted(workers) == sorted(f"worker_{q}" for q in ALL_QUEUES)
    for queue in ALL_QUEUES:
        assert f" -Q {queue} " in workers[f"worker_{queue}"]
    assert any(line.startswith("beat:") for line in committed)
    assert any(line.startswith("flower:") and "5555" in line for line in committed)


def test_every_agent_has_its_own_queue_and_module():
    assert sorted(spec.queue for spec in AGENTS.values()) == sorted(ALL_QUEUES)
    tasks = _registered_tasks()
    for queue in ALL_QUEUES:
        assert (ROOT / "tasks" / f"{queue}.py").is_file()
        assert f"tasks.{queue}.ping" in tasks


def test_every_task_routes_to_the_queue_of_its_module():
    router = app.amqp.router
    for name in _registered_tasks():
        if not name.startswith("tasks."):
            continue
        queue = name.split(".")[1]
        assert router.route({}, name)["queue"].name == queue, name


def test_every_task_type_names_a_registered_task_of_its_agent():
    tasks = _registered_tasks()
    for task_type in TASK_TYPES.values():
        agents = [task_type.agent] if task_type.agent else list(AGENTS)
        for agent in agents:
            celery_name = task_type.celery_task.format(agent=agent)
            assert celery_name in tasks, celery_name
            assert celery_name.split(".")[1] == AGENTS[agent].queue


def test_celery_is_configured_for_safe_delivery():
    conf = app.conf
    assert conf.task_serializer == "json" and conf.accept_content == ["json"] and conf.result_serializer == "json"
    assert conf.task_time_limit and conf.task_soft_time_limit and conf.task_soft_time_limit < conf.task_time_limit
    assert conf.worker_prefetch_multiplier == 1
    assert conf.broker_transport_options["priority_steps"] == sorted(PRIORITY_LEVELS.values())
    assert conf.beat_scheduler == "bmc.beat:TickRecordingScheduler"
    tasks = _registered_tasks()
    for task_type in TASK_TYPES.values():
        if task_type.agent and task_type.idempotent:
            task = tasks[task_type.celery_task]
            assert task.acks_late and task.reject_on_worker_lost, task.name
            assert task.soft_time_limit and task.time_limit


def test_every_task_name_held_outside_the_code_resolves():
    """Names are what the broker, beat's schedule, the task types and the task records hold: each
    must be a registered task routed to its own queue, whatever module defines it."""
    import ast

    from django.conf import settings

    tasks = _registered_tasks()
    held = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    held |= {t.celery_task.format(agent=a) for t in TASK_TYPES.values() for a in ([t.agent] if t.agent else AGENTS)}
    # names the code sends by string (beat's recovery, for one)
    for path in [*ROOT.glob("bmc/**/*.py"), *ROOT.glob("agents/**/*.py"), *ROOT.glob("tasks/**/*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("tasks."):
                if node.value.count(".") == 2 and "*" not in node.value and "{" not in node.value:
                    held.add(node.value)
    assert sorted(name for name in held if name not in tasks) == []
    router = app.amqp.router
    for name in held:
        assert router.route({}, name)["queue"].name == name.split(".")[1], name
