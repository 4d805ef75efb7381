"""Workflow definitions: their shape (a JSON Schema per step kind), the checks no schema states
(every step named exists and is reached, each task type is one an agent takes, each condition
parses), and their versions. A definition that does not validate is refused with all its errors.

A definition:

    {"start": "reserve",
     "input": {JSON Schema of the run's input, optional},
     "steps": {
        "reserve":  {"kind": "task", "task_type": "staff.notify", "input": {"title": "$input.title"},
                     "retry": {"max_attempts": 3, "backoff": 5}, "timeout": 60, "next": "big?"},
        "big?":     {"kind": "condition", "if": "steps.reserve.total > 1000", "then": "approve", "else": null},
        "approve":  {"kind": "approval", "title": "...", "next": "wait", "on_reject": null},
        "wait":     {"kind": "delay", "seconds": 3600, "next": "paid"},
        "paid":     {"kind": "wait_event", "event": "payment.received", "subject": "$steps.order.subject",
                     "timeout": 86400, "on_timeout": "remind", "next": "both"},
        "both":     {"kind": "parallel", "branches": {"a": {"task_type": ...}, "b": {...}}, "next": null}}}

A string value "$input.x" or "$steps.<step>.<field>" in a step's input is read from the run when
the step starts; `next: null` ends the run. Without `on_error` / `on_timeout` / `on_reject`, a
step that fails, times out or is rejected fails the run; with one, the run goes there (null: it
ends, completed).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.db import transaction
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from simpleeval import SimpleEval

from bmc.core.models import Tenant
from bmc.jobs.registry import TASK_TYPES
from bmc.workflows.models import WorkflowDefinition

KINDS = ("task", "condition", "parallel", "delay", "wait_event", "approval")
# Task types a step may not run: the engine's own.
ENGINE_TASK_TYPES = ("workflows.advance",)

_NEXT = {"type": ["string", "null"]}
_SECONDS = {"type": "integer", "minimum": 1, "maximum": 90 * 24 * 3600}
_TASK = {
    "task_type": {"type": "string"},
    "input": {"type": "object"},
    "retry": {
        "type": "object",
        "properties": {
            "max_attempts": {"type": "integer", "minimum": 1, "maximum": 20},
            "backoff": {"type": "integer", "minimum": 0, "maximum": 3600},
        },
        "additionalProperties": False,
    },
    "timeout": _SECONDS,
}


def _step_schema(required: list[str], properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["kind", *required],
        "properties": {"kind": {"type": "string"}, "description": {"type": "string"}, **properties},
        "additionalProperties": False,
    }


STEP_SCHEMAS: dict[str, dict[str, Any]] = {
    "task": _step_schema(["task_type", "next"], {**_TASK, "next": _NEXT, "on_error": _NEXT}),
    "condition": _step_schema(["if", "then", "else"], {"if": {"type": "string"}, "then": _NEXT, "else": _NEXT}),
    "parallel": _step_schema(
        ["branches", "next"],
        {
            "branches": {
                "type": "object",
                "minProperties": 1,
                "maxProperties": 50,
                "propertyNames": {"pattern": "^[a-z0-9_]+$"},
                "additionalProperties": {
                    "type": "object",
                    "required": ["task_type"],
                    "properties": _TASK,
                    "additionalProperties": False,
                },
            },
            "next": _NEXT,
            "on_error": _NEXT,
        },
    ),
    "delay": _step_schema(["seconds", "next"], {"seconds": _SECONDS, "next": _NEXT}),
    "wait_event": _step_schema(
        ["event", "next"],
        {
            "event": {"type": "string", "pattern": "^[a-z_]+\\.[a-z_]+$"},
            "subject": {"type": "string"},
            "timeout": _SECONDS,
            "on_timeout": _NEXT,
            "next": _NEXT,
        },
    ),
    "approval": _step_schema(
        ["title", "next"],
        {"title": {"type": "string", "minLength": 1, "maxLength": 200}, "next": _NEXT, "on_reject": _NEXT},
    ),
}

DEFINITION_SCHEMA = {
    "type": "object",
    "required": ["start", "steps"],
    "properties": {
        "start": {"type": "string"},
        "description": {"type": "string"},
        "input": {"type": "object"},
        "steps": {
            "type": "object",
            "minProperties": 1,
            "maxProperties": 200,
            "propertyNames": {"pattern": "^[A-Za-z0-9_?-]{1,60}$"},
            "additionalProperties": {"type": "object"},
        },
    },
    "additionalProperties": False,
}

# The keys of a step that name the step to go to.
TRANSITIONS = ("next", "then", "else", "on_error", "on_timeout", "on_reject")


class DefinitionError(ValueError):
    """A definition that does not validate: `errors` lists each problem, where it is."""

    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors))
        self.errors = errors


def _schema_errors(validator: Draft202012Validator, value: Any, where: str) -> list[str]:
    errors = []
    for error in sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path)):
        path = ".".join(str(p) for p in [where, *error.absolute_path] if p != "")
        errors.append(f"{path or 'definition'}: {error.message}")
    return errors


def definition_errors(spec: Any) -> list[str]:
    """Every problem of a definition, each saying where (`steps.pay.next: ...`); empty when sound."""
    errors = _schema_errors(Draft202012Validator(DEFINITION_SCHEMA), spec, "")
    if errors:
        return errors
    if "input" in spec:
        try:
            Draft202012Validator.check_schema(spec["input"])
        except SchemaError as error:
            errors.append(f"input: not a JSON Schema: {error.message}")
    steps = spec["steps"]
    if spec["start"] not in steps:
        errors.append(f"start: '{spec['start']}' is not one of the steps ({', '.join(steps)})")
    for name, step in steps.items():
        errors += _step_errors(name, step, steps)
    if not errors:
        unreached = sorted(set(steps) - _reached(spec))
        errors += [f"steps.{name}: no step leads to it" for name in unreached]
    return errors


def _step_errors(name: str, step: dict[str, Any], steps: dict[str, Any]) -> list[str]:
    where = f"steps.{name}"
    kind = step.get("kind")
    if kind not in KINDS:
        return [f"{where}.kind: '{kind}' is not a step kind; kinds are {', '.join(KINDS)}"]
    errors = _schema_errors(Draft202012Validator(STEP_SCHEMAS[kind]), step, where)
    if errors:
        return errors
    for key in TRANSITIONS:
        target = step.get(key)
        if target is not None and target not in steps:
            errors.append(f"{where}.{key}: '{target}' is not one of the steps")
    tasks = [("", step)] if kind == "task" else [(f".branches.{b}", s) for b, s in step.get("branches", {}).items()]
    for branch, task in tasks:
        task_type = task["task_type"]
        if task_type not in TASK_TYPES or task_type in ENGINE_TASK_TYPES or "{" in TASK_TYPES[task_type].celery_task:
            errors.append(f"{where}{branch}.task_type: '{task_type}' is not a task type an agent takes")
    if kind == "condition":
        try:
            SimpleEval().parse(step["if"])
        except SyntaxError as error:
            errors.append(f"{where}.if: not an expression: {error.msg}")
    return errors


def _reached(spec: dict[str, Any]) -> set[str]:
    seen, todo = set(), [spec["start"]]
    while todo:
        name = todo.pop()
        if name in seen or name not in spec["steps"]:
            continue
        seen.add(name)
        todo += [spec["steps"][name][key] for key in TRANSITIONS if spec["steps"][name].get(key)]
    return seen


def definition_check(spec: Any) -> None:
    errors = definition_errors(spec)
    if errors:
        raise DefinitionError(errors)


def workflow_definition_save(*, tenant: Tenant, name: str, spec: Any, description: str = "") -> WorkflowDefinition:
    """The definition as its next version, checked first; the same steps as the latest version
    are that version (saving twice makes one)."""
    definition_check(spec)
    with transaction.atomic():
        latest = (
            WorkflowDefinition.objects.select_for_update().filter(tenant=tenant, name=name).order_by("-version").first()
        )
        if latest is not None and latest.spec == spec:
            return latest
        return WorkflowDefinition.objects.create(
            tenant=tenant,
            name=name,
            version=(latest.version + 1) if latest else 1,
            spec=spec,
            description=description or spec.get("description", ""),
        )


# The workflows the product ships (agents/workflows/builtin/<name>.json): each company gets its
# latest text as a version of its own the first time a run of it starts.
BUILTIN = {path.stem: json.loads(path.read_text()) for path in (Path(__file__).parent / "builtin").glob("*.json")}


def workflow_definition_latest(*, tenant: Tenant, name: str) -> WorkflowDefinition | None:
    if name in BUILTIN:
        return workflow_definition_save(tenant=tenant, name=name, spec=BUILTIN[name])
    return WorkflowDefinition.objects.filter(tenant=tenant, name=name).order_by("-version").first()
