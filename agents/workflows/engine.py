"""The workflow engine: a run advances one step at a time under a lock on its row, and writes a
step's outcome in the same transaction that opens the step after it. So whatever process dies,
and whenever, a step is either not started (the scan advances it), started with its work recorded
as an agent task (which the reaper sends again if the broker lost it, and which runs nothing twice
once it is done), or done, and never run again (docs/workflows.md).

Nothing here waits in a process: a timer is a step's `not_before` and a timeout its `deadline`,
both rows in the database that beat's scan claims (never a broker ETA, lost with Redis); an event
is a DomainEvent row; a person's decision is written on the step.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.utils import timezone
from django.utils.translation import gettext
from jsonschema import Draft202012Validator
from simpleeval import InvalidExpression, SimpleEval

from agents.staff import staff_task_open
from agents.workflows.definitions import workflow_definition_latest
from bmc.core.models import Tenant, tenant_get
from bmc.events.models import DomainEvent
from bmc.jobs.models import AgentTask
from bmc.jobs.submit import task_cancel, task_submit, task_submit_many
from bmc.metrics import WORKFLOW_RUNS
from bmc.sales.models import StaffTask
from bmc.workflows.models import WorkflowRun, WorkflowStep

logger = logging.getLogger(__name__)

Step = WorkflowStep.Status
# Steps a run takes in one advance before it hands on to a fresh advance task (a loop of
# conditions alone would otherwise never let go of the run's lock).
MAX_HOPS = 50
# A step opened but not advanced this long after (its advance task lost with its process): the scan advances it.
STALLED_AFTER = timedelta(seconds=30)
DEFAULT_ATTEMPTS = 3
DEFAULT_BACKOFF = 5


class WorkflowError(ValueError):
    """A run that cannot start, or a request a run cannot take: `errors` says each reason."""

    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors))
        self.errors = errors


class StepError(Exception):
    """A step that cannot do what its definition says (an input the run does not have, a
    condition that does not evaluate): it fails without a retry, saying why."""


@dataclass(frozen=True)
class Outcome:
    """What a step handler decided: stay (wait for its work, a timer, an event or a person), go
    on to `next` (None ends the run), or fail the run."""

    wait: bool = False
    next: str | None = None
    failed: str = ""


WAIT = Outcome(wait=True)


# --- starting, cancelling, deciding -----------------------------------------------------------


def workflow_start(
    *,
    tenant: Tenant,
    name: str,
    input: dict[str, Any],
    trace_id: str = "",
    requested_by: str = "api",
    trigger: str = "",
) -> WorkflowRun:
    """A run of the workflow's latest version, its first advance recorded with it. With a
    `trigger` (what started it, e.g. "quote:12"), one run per trigger: asked again, the run there is."""
    if trigger:
        existing = WorkflowRun.objects.filter(tenant=tenant, trigger=trigger).first()
        if existing is not None:
            return existing
    definition = workflow_definition_latest(tenant=tenant, name=name)
    if definition is None:
        raise WorkflowError([f"workflow: no workflow named '{name}' in this company"])
    if not isinstance(input, dict):
        raise WorkflowError(["input: must be a JSON object"])
    if "input" in definition.spec:
        errors = Draft202012Validator(definition.spec["input"]).iter_errors(input)
        messages = [f"input.{'.'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in errors]
        if messages:
            raise WorkflowError(sorted(messages))
    floor = DomainEvent.objects.filter(tenant=tenant).aggregate(last=Max("id"))["last"] or 0
    try:
        with transaction.atomic():
            run = WorkflowRun.objects.create(
                tenant=tenant,
                definition=definition,
                input=input,
                context={"input": input, "steps": {}, "events_after": floor},
                trace_id=trace_id,
                trigger=trigger,
            )
            _step_open(run, definition.spec["start"], definition.spec)
            _advance_submit(tenant=tenant, run_id=run.pk, requested_by=requested_by, trace_id=trace_id)
    except IntegrityError:  # the same trigger, started a moment ago
        return WorkflowRun.objects.get(tenant=tenant, trigger=trigger)
    return run


def _advance_submit(*, tenant: Tenant, run_id: int, requested_by: str, trace_id: str = "") -> None:
    task_submit(
        tenant=tenant,
        task_type="workflows.advance",
        payload={"run_id": run_id},
        requested_by=requested_by,
        trace_id=trace_id or None,
    )


def workflow_run_cancel(*, run: WorkflowRun, reason: str = "") -> bool:
    """Cancel a run that has not ended: its open steps are cancelled, their agent tasks withdrawn
    (a running one is stopped), and a decision a person was asked for is closed. False when the
    run had already ended. `reason`: the run's error, for staff."""
    reason = reason or gettext("cancelled on request")
    with transaction.atomic():
        run = WorkflowRun.objects.select_for_update().get(pk=run.pk)
        if run.status in WorkflowRun.TERMINAL:
            return False
        now = timezone.now()
        open_steps = list(run.steps.filter(status__in=WorkflowStep.OPEN).select_related("agent_task"))
        for step in open_steps:
            if step.agent_task is not None and not step.agent_task.is_terminal:
                task_cancel(task=step.agent_task)
        run.steps.filter(pk__in=[s.pk for s in open_steps]).update(status=Step.CANCELLED, finished_at=now)
        StaffTask.objects.filter(
            tenant_id=run.tenant_id,
            status=StaffTask.Status.OPEN,
            dedupe_key__in=[_approval_key(s) for s in open_steps if s.kind == "approval"],
        ).update(status=StaffTask.Status.DONE, done_at=now)
        _run_end(run, WorkflowRun.Status.CANCELLED, error=reason)
    return True


def workflow_step_decide(*, step: WorkflowStep, approved: bool, reason: str = "", by: str = "") -> bool:
    """A person's decision on an approval step that waits for one; the run goes on at once. False
    when the step is not waiting for a decision (decided already, or the run moved on)."""
    with transaction.atomic():
        WorkflowRun.objects.select_for_update().filter(pk=step.run_id).first()
        decided = WorkflowStep.objects.filter(
            pk=step.pk, kind="approval", status=Step.WAITING, output__isnull=True
        ).update(output={"approved": approved, "reason": reason[:500], "by": by[:150]})
        if not decided:
            return False
        StaffTask.objects.filter(tenant_id=step.tenant_id, dedupe_key=_approval_key(step)).update(
            status=StaffTask.Status.DONE, done_at=timezone.now()
        )
        _advance_submit(tenant=step.run.tenant, run_id=step.run_id, requested_by="approval")
    return True


def _approval_key(step: WorkflowStep) -> str:
    return f"workflow-approval:{step.pk}"


# --- advancing ---------------------------------------------------------------------------------


def workflow_advance(*, tenant_id: int, run_id: int, now: datetime | None = None) -> dict[str, Any]:
    """Take the run as far as it goes now: each step whose work, timer, event or decision is there
    is finished and the next one opened, until one has to wait or the run ends. Safe to run any
    number of times, at once or again: the run's row is locked, and a finished step is final."""
    now = now or timezone.now()
    with transaction.atomic():
        run = tenant_get(
            WorkflowRun.objects.select_for_update().select_related("definition", "tenant"),
            tenant_id=tenant_id,
            pk=run_id,
        )
        if run.status in WorkflowRun.TERMINAL:
            return {"run_id": run.pk, "status": run.status}
        spec = run.definition.spec
        for _ in range(MAX_HOPS):
            step = run.steps.filter(parent=None).select_related("agent_task").order_by("-id").first()
            try:
                outcome = HANDLERS[step.kind](run, step, spec["steps"][step.name], now)
            except StepError as error:
                _step_finish(run, step, Step.FAILED, error=str(error))
                outcome = Outcome(failed=f"{step.name}: {error}")
            if outcome.wait:
                _run_status(
                    run, WorkflowRun.Status.WAITING if step.status == Step.WAITING else WorkflowRun.Status.RUNNING
                )
                break
            if outcome.failed:
                _run_end(run, WorkflowRun.Status.FAILED, error=outcome.failed)
                break
            if outcome.next is None:
                _run_end(run, WorkflowRun.Status.COMPLETED)
                break
            _step_open(run, outcome.next, spec)
        else:  # a long stretch of instant steps: the rest in a new advance, the lock let go meanwhile
            _advance_submit(tenant=run.tenant, run_id=run.pk, requested_by="workflows")
    return {"run_id": run.pk, "status": run.status}


def _step_open(run: WorkflowRun, name: str, spec: dict[str, Any]) -> WorkflowStep:
    return WorkflowStep.objects.create(
        tenant_id=run.tenant_id, run=run, name=name, kind=spec["steps"][name]["kind"], status=Step.PENDING
    )


def _step_finish(
    run: WorkflowRun, step: WorkflowStep, status: str, *, output: Any = None, error: str = "", now=None
) -> None:
    step.status, step.finished_at = status, now or timezone.now()
    step.started_at = step.started_at or step.finished_at
    if output is not None:
        step.output = output
    step.error = error[:4000] if error else step.error
    step.save(update_fields=["status", "output", "error", "started_at", "finished_at"])
    if status == Step.DONE and step.parent_id is None:
        run.context.setdefault("steps", {})[step.name] = step.output
        run.save(update_fields=["context", "updated_at"])


def _run_status(run: WorkflowRun, status: str) -> None:
    if run.status != status:
        run.status = status
        run.save(update_fields=["status", "updated_at"])


def _run_end(run: WorkflowRun, status: str, *, error: str = "") -> None:
    run.status, run.error, run.finished_at = status, error[:4000], timezone.now()
    run.save(update_fields=["status", "error", "finished_at", "updated_at"])
    transaction.on_commit(WORKFLOW_RUNS.labels(run.definition.name, status).inc)


# --- the step kinds ----------------------------------------------------------------------------


def _value(path: str, context: dict[str, Any]) -> Any:
    """ "$steps.order.total" -> the run's value there; StepError naming what is missing."""
    value: Any = context
    for part in path[1:].split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            raise StepError(gettext("%(path)s: the run has no such value") % {"path": path})
    return value


def resolve(template: Any, context: dict[str, Any]) -> Any:
    """A step's input with each "$path" read from the run ("$$" for a literal "$")."""
    if isinstance(template, str) and template.startswith("$$"):
        return template[1:]
    if isinstance(template, str) and template.startswith("$"):
        return _value(template, context)
    if isinstance(template, dict):
        return {key: resolve(value, context) for key, value in template.items()}
    if isinstance(template, list):
        return [resolve(value, context) for value in template]
    return template


def _task_claim(run: WorkflowRun, step: WorkflowStep, spec: dict[str, Any], now: datetime) -> None:
    """Start an attempt: the step's input read from the run, its work recorded as an agent task
    on its agent's queue (sent once this commits), the step running until `timeout`."""
    step.input = resolve(spec.get("input", {}), run.context)
    step.attempts += 1
    step.status, step.started_at, step.not_before = Step.RUNNING, step.started_at or now, None
    step.deadline = now + timedelta(seconds=spec["timeout"]) if spec.get("timeout") else None
    step.agent_task = task_submit(
        tenant=run.tenant,
        task_type=spec["task_type"],
        payload=step.input,
        metadata={"workflow_run": run.pk, "workflow_step": step.pk, "workflow_attempt": step.attempts},
        trace_id=run.trace_id or None,
        requested_by="workflows",
    )
    step.save(update_fields=["input", "attempts", "status", "started_at", "not_before", "deadline", "agent_task"])


def _task_progress(run: WorkflowRun, step: WorkflowStep, spec: dict[str, Any], now: datetime) -> str:
    """A task's state after looking at its work: pending or running (wait), done or failed."""
    if step.status == Step.PENDING:
        if step.not_before is None or step.not_before <= now:
            _task_claim(run, step, spec, now)
        return step.status
    if step.status != Step.RUNNING:
        return step.status
    task = step.agent_task
    if task is not None and task.status == AgentTask.Status.COMPLETED:
        _step_finish(run, step, Step.DONE, output=task.result if task.result is not None else {}, now=now)
        return step.status
    if task is not None and task.is_terminal:
        error = f"{task.task_type} {task.status}: {task.error}".strip(": ")
    elif step.deadline is not None and step.deadline <= now:
        if task is not None and not task_cancel(task=task):
            task.refresh_from_db()  # it finished as the timeout came: its outcome stands, no retry
            return _task_progress(run, step, spec, now)
        error = gettext("%(task)s did not finish within %(seconds)s s") % {
            "task": spec["task_type"],
            "seconds": spec["timeout"],
        }
    else:
        return step.status
    retry = spec.get("retry", {})
    if step.attempts < retry.get("max_attempts", DEFAULT_ATTEMPTS):
        step.status, step.error = Step.PENDING, error[:4000]
        step.not_before = now + timedelta(seconds=retry.get("backoff", DEFAULT_BACKOFF) * 2 ** (step.attempts - 1))
        step.save(update_fields=["status", "error", "not_before"])
        return step.status
    _step_finish(
        run,
        step,
        Step.FAILED,
        error=gettext("%(error)s (attempt %(attempt)s)") % {"error": error, "attempt": step.attempts},
        now=now,
    )
    return step.status


def _on_failure(step: WorkflowStep, spec: dict[str, Any]) -> Outcome:
    if "on_error" in spec:  # null: the run ends there, not failed
        return Outcome(next=spec["on_error"])
    return Outcome(failed=f"{step.name}: {step.error}")


def _task(run: WorkflowRun, step: WorkflowStep, spec: dict[str, Any], now: datetime) -> Outcome:
    state = _task_progress(run, step, spec, now)
    if state == Step.DONE:
        return Outcome(next=spec["next"])
    if state == Step.FAILED:
        return _on_failure(step, spec)
    return WAIT


def _parallel(run: WorkflowRun, step: WorkflowStep, spec: dict[str, Any], now: datetime) -> Outcome:
    """Each branch a task of its own, all started at once (their agents take them in parallel, as
    a group); the step is done when every branch is (a join counted in rows, not in Redis)."""
    if step.status == Step.PENDING:
        step.status, step.started_at = Step.RUNNING, now
        step.save(update_fields=["status", "started_at"])
        WorkflowStep.objects.bulk_create(
            WorkflowStep(tenant_id=run.tenant_id, run=run, parent=step, name=f"{step.name}.{branch}", kind="task")
            for branch in spec["branches"]
        )
    states = {}
    for branch_step in step.branches.select_related("agent_task").order_by("id"):
        branch = branch_step.name.rsplit(".", 1)[1]
        states[branch] = (_task_progress(run, branch_step, spec["branches"][branch], now), branch_step)
    failed = [s for state, s in states.values() if state == Step.FAILED]
    if failed:
        for state, branch_step in states.values():
            if state in WorkflowStep.OPEN:
                if branch_step.agent_task is not None and not branch_step.agent_task.is_terminal:
                    task_cancel(task=branch_step.agent_task)
                _step_finish(run, branch_step, Step.CANCELLED, error=gettext("another branch failed"), now=now)
        _step_finish(run, step, Step.FAILED, error="; ".join(f"{s.name}: {s.error}" for s in failed), now=now)
        return _on_failure(step, spec)
    if all(state == Step.DONE for state, _ in states.values()):
        _step_finish(run, step, Step.DONE, output={b: s.output for b, (_, s) in states.items()}, now=now)
        return Outcome(next=spec["next"])
    return WAIT


def _condition(run: WorkflowRun, step: WorkflowStep, spec: dict[str, Any], now: datetime) -> Outcome:
    context = run.context
    try:
        value = bool(
            SimpleEval(names={"input": context.get("input", {}), "steps": context.get("steps", {})}).eval(spec["if"])
        )
    except (InvalidExpression, ArithmeticError, LookupError, TypeError, ValueError) as error:
        # whatever an expression over the run's data can raise: the step fails saying why, once
        raise StepError(
            gettext("'%(expression)s' could not be evaluated: %(error)s")
            % {"expression": spec["if"], "error": f"{type(error).__name__}: {error}"}
        ) from None
    chosen = spec["then"] if value else spec["else"]
    _step_finish(run, step, Step.DONE, output={"value": value, "next": chosen}, now=now)
    return Outcome(next=chosen)


def _delay(run: WorkflowRun, step: WorkflowStep, spec: dict[str, Any], now: datetime) -> Outcome:
    if step.status == Step.PENDING:
        step.status, step.started_at, step.not_before = Step.WAITING, now, now + timedelta(seconds=spec["seconds"])
        step.save(update_fields=["status", "started_at", "not_before"])
    if step.not_before <= now:
        _step_finish(run, step, Step.DONE, output={"waited_until": step.not_before.isoformat()}, now=now)
        return Outcome(next=spec["next"])
    return WAIT


def _event_floor(run: WorkflowRun) -> int:
    """Events after this id may resume the run's next wait: those since it started, less any an
    earlier wait of the run took already."""
    taken = [
        (s.output or {}).get("event_id") or 0
        for s in run.steps.filter(kind="wait_event", status=Step.DONE).only("output")
    ]
    return max([run.context.get("events_after", 0), *taken])


def _wait_event(run: WorkflowRun, step: WorkflowStep, spec: dict[str, Any], now: datetime) -> Outcome:
    if step.status == Step.PENDING:
        subject = resolve(spec["subject"], run.context) if spec.get("subject") else None
        step.input = {"event": spec["event"], "subject": subject, "after": _event_floor(run)}
        step.status, step.started_at = Step.WAITING, now
        step.deadline = now + timedelta(seconds=spec["timeout"]) if spec.get("timeout") else None
        step.save(update_fields=["input", "status", "started_at", "deadline"])
    subjects = [f"workflow_run:{run.pk}"] + ([str(step.input["subject"])] if step.input.get("subject") else [])
    events = DomainEvent.objects.filter(tenant_id=run.tenant_id, type=spec["event"], id__gt=step.input["after"])
    if step.input.get("subject"):
        events = events.filter(subject__in=subjects)
    else:  # any subject, but not an event sent to another run
        events = events.exclude(Q(subject__startswith="workflow_run:") & ~Q(subject=subjects[0]))
    event = events.order_by("id").first()
    if event is not None:
        output = {"event_id": event.pk, "type": event.type, "subject": event.subject, "data": event.data}
        _step_finish(run, step, Step.DONE, output=output, now=now)
        return Outcome(next=spec["next"])
    if step.deadline is not None and step.deadline <= now:
        if "on_timeout" in spec:
            _step_finish(run, step, Step.DONE, output={"timed_out": True}, now=now)
            return Outcome(next=spec["on_timeout"])
        error = gettext("no %(event)s within %(seconds)s s") % {"event": spec["event"], "seconds": spec["timeout"]}
        _step_finish(run, step, Step.FAILED, error=error, now=now)
        return Outcome(failed=f"{step.name}: {step.error}")
    return WAIT


def _approval(run: WorkflowRun, step: WorkflowStep, spec: dict[str, Any], now: datetime) -> Outcome:
    if step.status == Step.PENDING:
        step.status, step.started_at = Step.WAITING, now
        step.save(update_fields=["status", "started_at"])
        staff_task_open(
            tenant_id=run.tenant_id,
            kind=StaffTask.Kind.APPROVAL,
            dedupe_key=_approval_key(step),
            title=str(resolve(spec["title"], run.context))[:200],
            detail=gettext("%(workflow)s run %(run)s, step %(step)s: approve or reject it in the admin.")
            % {"workflow": run.definition, "run": run.pk, "step": step.name},
        )
    if not step.output:
        return WAIT
    _step_finish(run, step, Step.DONE, now=now)
    if step.output.get("approved"):
        return Outcome(next=spec["next"])
    if "on_reject" in spec:
        return Outcome(next=spec["on_reject"])
    by, reason = step.output.get("by"), step.output.get("reason", "")
    rejected = (
        gettext("rejected by %(by)s: %(reason)s") % {"by": by, "reason": reason}
        if by
        else gettext("rejected: %(reason)s") % {"reason": reason}
    )
    return Outcome(failed=f"{step.name}: {rejected}")


HANDLERS = {
    "task": _task,
    "parallel": _parallel,
    "condition": _condition,
    "delay": _delay,
    "wait_event": _wait_event,
    "approval": _approval,
}


# --- what wakes a run --------------------------------------------------------------------------


def workflow_step_task_finished(*, task: AgentTask) -> None:
    """A step's agent task finished (done, failed for good, cancelled): its run advances now,
    rather than at the scan's next pass."""
    run_id = (task.metadata or {}).get("workflow_run")
    if run_id:
        with transaction.atomic():
            _advance_submit(tenant=task.tenant, run_id=run_id, requested_by="workflows", trace_id=task.trace_id)


def workflow_runs_waiting_for(event: DomainEvent) -> list[int]:
    """Runs with a step waiting for an event of this type (for this subject, or for the run itself)."""
    waiting = WorkflowStep.objects.filter(
        tenant_id=event.tenant_id, kind="wait_event", status=Step.WAITING, input__event=event.type
    ).filter(Q(input__subject=None) | Q(input__subject=event.subject))
    run_ids = set(waiting.values_list("run_id", flat=True))
    if event.subject.startswith("workflow_run:"):
        addressed = WorkflowStep.objects.filter(
            tenant_id=event.tenant_id,
            run_id=event.subject.split(":", 1)[1] if event.subject.split(":", 1)[1].isdigit() else 0,
            kind="wait_event",
            status=Step.WAITING,
            input__event=event.type,
        )
        run_ids |= set(addressed.values_list("run_id", flat=True))
    return sorted(run_ids)


def workflows_advance_submit(*, runs: list[tuple[int, int]], requested_by: str) -> None:
    """An advance for each (tenant_id, run_id)."""
    task_submit_many(
        task_type="workflows.advance",
        items=[(tenant_id, {"run_id": run_id}) for tenant_id, run_id in runs],
        requested_by=requested_by,
    )


def workflows_due(*, now: datetime | None = None, limit: int = 500) -> list[tuple[int, int]]:
    """Runs that can move and that nothing is moving (beat's scan): a timer or a timeout come, a
    step's agent task finished, or a step opened and left (its advance lost with its process).
    A run with an advance waiting or running is left to it."""
    now = now or timezone.now()
    open_runs = WorkflowRun.objects.exclude(status__in=WorkflowRun.TERMINAL)
    due_steps = WorkflowStep.objects.filter(run__in=open_runs).filter(
        Q(status__in=(Step.PENDING, Step.WAITING), not_before__lte=now)
        | Q(status__in=(Step.RUNNING, Step.WAITING), deadline__lte=now)
        | Q(status=Step.RUNNING, agent_task__status__in=AgentTask.TERMINAL)
        | Q(status=Step.PENDING, not_before=None, created_at__lte=now - STALLED_AFTER)
        | Q(kind="approval", status=Step.WAITING, output__isnull=False)
    )
    runs = list(due_steps.values_list("tenant_id", "run_id").distinct().order_by("run_id")[:limit])
    under_way = set(
        AgentTask.objects.exclude(status__in=AgentTask.TERMINAL)
        .filter(task_type="workflows.advance", payload__run_id__in=[run_id for _, run_id in runs])
        .values_list("payload__run_id", flat=True)
    )
    return [(tenant_id, run_id) for tenant_id, run_id in runs if run_id not in under_way]


def workflows_scan(*, now: datetime | None = None) -> dict[str, Any]:
    runs = workflows_due(now=now)
    with transaction.atomic():
        workflows_advance_submit(runs=runs, requested_by="workflows-scan")
    return {"advanced": [run_id for _, run_id in runs]}
