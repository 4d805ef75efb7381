"""The workflow engine's steps, run by calling the engine as its tasks do; the step's agent tasks
are claimed and finished through the task records as a worker does (tests/flows/test_workflows.py
runs the same on real workers, killed)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from agents.events import event_emit, events_publish
from agents.workflows.definitions import DefinitionError, definition_errors, workflow_definition_save
from agents.workflows.engine import (
    WorkflowError,
    workflow_advance,
    workflow_run_cancel,
    workflow_start,
    workflow_step_decide,
    workflows_due,
)
from bmc.jobs import records
from bmc.jobs.models import AgentTask
from bmc.sales.models import StaffTask
from bmc.workflows.models import WorkflowRun, WorkflowStep

pytestmark = pytest.mark.django_db

NOTIFY = {"kind": "task", "task_type": "staff.notify", "input": {"title": "$input.title"}}


def save(tenant, steps: dict, start: str | None = None, name: str = "flow", **extra) -> None:
    workflow_definition_save(
        tenant=tenant, name=name, spec={"start": start or next(iter(steps)), "steps": steps, **extra}
    )


def advance(run: WorkflowRun, later: float = 0) -> WorkflowRun:
    workflow_advance(tenant_id=run.tenant_id, run_id=run.pk, now=timezone.now() + timedelta(seconds=later))
    run.refresh_from_db()
    return run


def step(run: WorkflowRun, name: str) -> WorkflowStep:
    return run.steps.filter(name=name).order_by("-id").first()


def worker_does(task: AgentTask, *, result=None, error: str = "") -> None:
    """What a worker does with a step's task: claims it, then finishes it or fails it."""
    claim = records.agent_task_claim(task_id=str(task.task_id), worker="w@test", redelivered=False, max_attempts=5)
    if error:
        records.agent_task_fail(task_id=str(task.task_id), error=error)
    else:
        records.agent_task_complete(
            task_id=str(task.task_id), attempt=claim.attempt, result=result, processing_time_ms=1
        )


def test_a_definition_that_does_not_validate_is_refused_with_each_error(tenant):
    spec = {
        "start": "first",
        "steps": {
            "first": {"kind": "task", "task_type": "no.such", "next": "nowhere"},
            "check": {"kind": "condition", "if": "steps.first.total >", "then": None, "else": None},
            "pause": {"kind": "delay", "seconds": 0, "next": None},
            "odd": {"kind": "teleport", "next": None},
        },
    }
    errors = definition_errors(spec)
    assert "steps.first.task_type: 'no.such' is not a task type an agent takes" in errors
    assert "steps.first.next: 'nowhere' is not one of the steps" in errors
    assert any(e.startswith("steps.check.if: not an expression") for e in errors)
    assert "steps.pause.seconds: 0 is less than the minimum of 1" in errors
    assert any(e.startswith("steps.odd.kind: 'teleport' is not a step kind") for e in errors)
    unreached = {"start": "a", "steps": {"a": {**NOTIFY, "next": None}, "b": {**NOTIFY, "next": None}}}
    assert definition_errors(unreached) == ["steps.b: no step leads to it"]
    assert definition_errors({"steps": {}}) == [
        "definition: 'start' is a required property",
        "steps: {} should be non-empty",
    ]
    with pytest.raises(DefinitionError):
        workflow_definition_save(tenant=tenant, name="bad", spec=spec)


def test_a_changed_definition_is_a_new_version_and_a_run_keeps_its_own(tenant):
    save(tenant, {"notify": {**NOTIFY, "next": None}})
    save(tenant, {"notify": {**NOTIFY, "next": None}})  # the same steps: still version 1
    run = workflow_start(tenant=tenant, name="flow", input={"title": "uno"})
    save(tenant, {"notify": {**NOTIFY, "next": "again"}, "again": {**NOTIFY, "next": None}})
    assert run.definition.version == 1
    assert workflow_start(tenant=tenant, name="flow", input={}).definition.version == 2


def test_a_run_needs_a_known_workflow_and_the_input_it_declares(tenant, other_tenant):
    save(other_tenant, {"notify": {**NOTIFY, "next": None}}, name="theirs")
    with pytest.raises(WorkflowError, match="no workflow named 'theirs'"):
        workflow_start(tenant=tenant, name="theirs", input={})
    schema = {"type": "object", "required": ["title"], "properties": {"title": {"type": "string"}}}
    save(tenant, {"notify": {**NOTIFY, "next": None}}, input=schema)
    with pytest.raises(WorkflowError) as refused:
        workflow_start(tenant=tenant, name="flow", input={"title": 5})
    assert refused.value.errors == ["input.title: 5 is not of type 'string'"]


def test_a_task_step_runs_its_agents_task_and_retries_it_with_backoff(tenant):
    save(tenant, {"notify": {**NOTIFY, "retry": {"max_attempts": 2, "backoff": 10}, "next": None}})
    run = advance(workflow_start(tenant=tenant, name="flow", input={"title": "Llamar a Ana"}))
    notify = step(run, "notify")
    assert (notify.status, notify.attempts, notify.input) == ("running", 1, {"title": "Llamar a Ana"})
    assert notify.agent_task.task_type == "staff.notify" and notify.agent_task.metadata["workflow_step"] == notify.pk

    worker_does(notify.agent_task, error="ConnectionError: the database went away")
    run = advance(run)
    notify.refresh_from_db()
    assert notify.status == "pending" and "the database went away" in notify.error
    assert advance(run, later=5).steps.get().attempts == 1  # backoff: not before 10 s
    run = advance(run, later=11)
    notify.refresh_from_db()
    assert notify.attempts == 2 and notify.status == "running"

    worker_does(notify.agent_task, result={"staff_task_id": 7})
    run = advance(run)
    assert run.status == "completed" and run.context["steps"]["notify"] == {"staff_task_id": 7}
    assert step(run, "notify").finished_at is not None


def test_a_task_that_keeps_failing_fails_the_run_saying_why_or_goes_to_on_error(tenant):
    save(
        tenant,
        {
            "notify": {**NOTIFY, "retry": {"max_attempts": 1}, "next": None, "on_error": "tell"},
            "tell": {**NOTIFY, "input": {"title": "falló"}, "retry": {"max_attempts": 1}, "next": None},
        },
    )
    run = advance(workflow_start(tenant=tenant, name="flow", input={"title": "x"}))
    worker_does(step(run, "notify").agent_task, error="ValueError: no such customer")
    run = advance(run)
    assert step(run, "notify").status == "failed" and step(run, "tell").status == "running"
    worker_does(step(run, "tell").agent_task, error="ValueError: again")
    run = advance(run)
    assert run.status == "failed"
    assert run.error == "tell: staff.notify failed: ValueError: again (intento 1)"


def test_a_task_past_its_timeout_is_stopped_and_tried_again(tenant):
    save(tenant, {"notify": {**NOTIFY, "timeout": 30, "retry": {"max_attempts": 2, "backoff": 0}, "next": None}})
    run = advance(workflow_start(tenant=tenant, name="flow", input={"title": "x"}))
    first = step(run, "notify").agent_task
    run = advance(run, later=31)
    first.refresh_from_db()
    assert first.status == "cancelled"
    run = advance(run, later=32)
    notify = step(run, "notify")
    assert notify.attempts == 2 and notify.agent_task != first and "staff.notify no terminó en 30 s" in notify.error


def test_delay_condition_approval_and_an_event_take_a_run_to_its_end(tenant, admin_user):
    save(
        tenant,
        {
            "wait": {"kind": "delay", "seconds": 60, "next": "big?"},
            "big?": {"kind": "condition", "if": "input.amount > 1000", "then": "approve", "else": None},
            "approve": {"kind": "approval", "title": "$input.why", "next": "paid"},
            "paid": {"kind": "wait_event", "event": "payment.received", "subject": "$input.order", "next": None},
        },
        input={"type": "object", "required": ["amount", "order"]},
    )
    run = advance(
        workflow_start(tenant=tenant, name="flow", input={"amount": 2500, "order": "order:12", "why": "Compra grande"})
    )
    assert run.status == "waiting" and step(run, "wait").not_before > timezone.now() + timedelta(seconds=55)
    assert advance(run, later=30).steps.count() == 1
    run = advance(run, later=61)
    assert step(run, "big?").output == {"value": True, "next": "approve"}
    approve = step(run, "approve")
    assert approve.status == "waiting" and run.status == "waiting"
    asked = StaffTask.objects.get(kind="approval", status="open")
    assert (asked.title, asked.dedupe_key) == ("Compra grande", f"workflow-approval:{approve.pk}")

    assert workflow_step_decide(step=approve, approved=True, reason="ok", by="ana")
    assert not workflow_step_decide(step=approve, approved=False, by="beto")  # decided once
    assert not StaffTask.objects.filter(kind="approval", status="open").exists()
    run = advance(run)
    assert step(run, "paid").status == "waiting"

    event_emit(tenant=tenant, type="payment.received", subject="order:99", data={"amount": 1})
    assert advance(run).status == "waiting"  # another order's payment
    paid = event_emit(tenant=tenant, type="payment.received", subject="order:12", data={"amount": 2500})
    assert events_publish(tenant_id=tenant.pk, event_id=paid.pk)["runs"] == [run.pk]
    run = advance(run)
    assert run.status == "completed"
    assert run.context["steps"]["paid"]["data"] == {"amount": 2500}
    assert [s.name for s in run.steps.order_by("id")] == ["wait", "big?", "approve", "paid"]


def test_a_rejected_approval_and_an_event_that_never_comes_end_as_their_definition_says(tenant):
    save(
        tenant,
        {
            "approve": {"kind": "approval", "title": "¿Seguimos?", "next": "paid", "on_reject": None},
            "paid": {"kind": "wait_event", "event": "payment.received", "timeout": 3600, "next": None},
        },
    )
    rejected = advance(workflow_start(tenant=tenant, name="flow", input={}))
    workflow_step_decide(step=step(rejected, "approve"), approved=False, reason="sin stock", by="ana")
    assert advance(rejected).status == "completed"  # on_reject: null ends it

    save(
        tenant,
        {
            "paid": {
                "kind": "wait_event",
                "event": "payment.received",
                "timeout": 3600,
                "on_timeout": "remind",
                "next": None,
            },
            "remind": {**NOTIFY, "input": {"title": "recordar el pago"}, "next": None},
        },
        name="late",
    )
    late = advance(workflow_start(tenant=tenant, name="late", input={}))
    late = advance(late, later=3601)
    assert step(late, "paid").output == {"timed_out": True} and step(late, "remind").status == "running"


def test_an_event_sent_to_the_run_resumes_it_and_an_earlier_one_does_not(tenant):
    save(tenant, {"paid": {"kind": "wait_event", "event": "payment.received", "subject": "order:1", "next": None}})
    event_emit(tenant=tenant, type="payment.received", subject="order:1", data={"before": True})
    run = advance(workflow_start(tenant=tenant, name="flow", input={}))
    assert run.status == "waiting"  # that payment was before the run started
    event_emit(tenant=tenant, type="payment.received", subject=f"workflow_run:{run.pk}", data={"by": "api"})
    run = advance(run)
    assert run.status == "completed" and run.context["steps"]["paid"]["data"] == {"by": "api"}


def test_parallel_branches_run_at_once_and_join_when_all_are_done(tenant):
    save(
        tenant,
        {
            "both": {
                "kind": "parallel",
                "branches": {
                    "sales": {"task_type": "staff.notify", "input": {"title": "ventas"}},
                    "depot": {"task_type": "staff.notify", "input": {"title": "depósito"}},
                },
                "next": None,
            }
        },
    )
    run = advance(workflow_start(tenant=tenant, name="flow", input={}))
    branches = {s.name: s for s in step(run, "both").branches.all()}
    assert set(branches) == {"both.sales", "both.depot"} and all(s.status == "running" for s in branches.values())
    worker_does(branches["both.sales"].agent_task, result={"id": 1})
    assert advance(run).status == "running"
    worker_does(branches["both.depot"].agent_task, result={"id": 2})
    run = advance(run)
    assert run.status == "completed" and run.context["steps"]["both"] == {"sales": {"id": 1}, "depot": {"id": 2}}


def test_a_cancelled_run_stops_its_work_and_closes_what_it_asked_of_people(tenant):
    save(
        tenant,
        {
            "both": {"kind": "parallel", "branches": {"a": {"task_type": "staff.notify"}}, "next": "approve"},
            "approve": {"kind": "approval", "title": "ok?", "next": None},
        },
    )
    run = advance(workflow_start(tenant=tenant, name="flow", input={}))
    task = step(run, "both.a").agent_task
    assert workflow_run_cancel(run=run)
    run.refresh_from_db()
    task.refresh_from_db()
    assert run.status == "cancelled" and task.status == "cancelled"
    assert set(run.steps.values_list("status", flat=True)) == {"cancelled"}
    assert not workflow_run_cancel(run=run)
    assert advance(run).status == "cancelled"  # an advance still on its way changes nothing


def test_the_scan_finds_runs_that_can_move_and_that_nothing_moves(tenant):
    save(
        tenant,
        {
            "notify": {**NOTIFY, "timeout": 30, "next": "approve"},
            "approve": {"kind": "approval", "title": "ok?", "next": None},
        },
    )
    run = workflow_start(tenant=tenant, name="flow", input={"title": "x"})
    assert workflows_due(now=timezone.now() + timedelta(minutes=5)) == []  # its advance is on its way
    AgentTask.objects.filter(task_type="workflows.advance").update(status="completed")
    assert workflows_due() == []  # opened a moment ago: its advance may still be running
    assert workflows_due(now=timezone.now() + timedelta(minutes=5)) == [(tenant.pk, run.pk)]  # that advance was lost

    run = advance(run)
    AgentTask.objects.filter(task_type="workflows.advance").update(status="completed")
    assert workflows_due(now=timezone.now() + timedelta(seconds=5)) == []  # its task is at work
    assert workflows_due(now=timezone.now() + timedelta(seconds=31)) == [(tenant.pk, run.pk)]  # past its timeout
    worker_does(step(run, "notify").agent_task, result={})
    assert workflows_due() == [(tenant.pk, run.pk)]  # its task finished (and the wake-up was lost)

    run = advance(run)
    assert workflows_due(now=timezone.now() + timedelta(days=30)) == []  # a person decides, no timer
    WorkflowStep.objects.filter(name="approve").update(output={"approved": True})
    assert workflows_due() == [(tenant.pk, run.pk)]


def test_a_condition_that_fails_on_the_runs_data_fails_its_run_once(tenant):
    save(tenant, {"check": {"kind": "condition", "if": "int(input.amount) > 3", "then": None, "else": None}})
    run = advance(workflow_start(tenant=tenant, name="flow", input={"amount": "mucho"}))
    assert run.status == "failed" and "ValueError" in run.error
    AgentTask.objects.filter(task_type="workflows.advance").update(status="completed")
    assert workflows_due(now=timezone.now() + timedelta(minutes=5)) == []  # ended: nothing to retry


def test_a_wait_for_any_subject_does_not_take_an_event_sent_to_another_run(tenant):
    save(tenant, {"signed": {"kind": "wait_event", "event": "contract.signed", "next": None}})
    first = advance(workflow_start(tenant=tenant, name="flow", input={}))
    second = advance(workflow_start(tenant=tenant, name="flow", input={}))
    event_emit(tenant=tenant, type="contract.signed", subject=f"workflow_run:{second.pk}")
    assert advance(first).status == "waiting" and advance(second).status == "completed"
