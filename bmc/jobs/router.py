"""Which agent takes a task: by task type, then intent, then required capabilities."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bmc.jobs.registry import AGENTS, FALLBACK_AGENT, TASK_TYPES, AgentSpec


class RoutingError(ValueError):
    """The task cannot be routed; the message says what is wrong and what is allowed."""


@dataclass(frozen=True)
class Route:
    agent: AgentSpec
    celery_task: str
    reason: str  # "task_type", "intent", "capabilities" or "fallback"


def route_task(*, task_type: str, intent: str | None = None, required_capabilities: Iterable[str] = ()) -> Route:
    spec = TASK_TYPES.get(task_type)
    if spec is None:
        raise RoutingError(f"Unknown task_type '{task_type}'. Known task types: {', '.join(sorted(TASK_TYPES))}.")
    required = frozenset(required_capabilities)

    if spec.agent is not None:
        agent, reason = AGENTS[spec.agent], "task_type"
    else:
        agent, reason = _route_generic(intent=intent, required=required)

    missing = required - agent.capabilities
    if missing:
        raise RoutingError(
            f"Agent '{agent.id}' takes task_type '{task_type}' but lacks the required capabilities "
            f"{', '.join(sorted(missing))}; it has {', '.join(sorted(agent.capabilities))}."
        )
    return Route(agent=agent, celery_task=spec.celery_task.format(agent=agent.id), reason=reason)


def _route_generic(*, intent: str | None, required: frozenset[str]) -> tuple[AgentSpec, str]:
    if intent:
        for agent in AGENTS.values():
            if intent in agent.intents and required <= agent.capabilities:
                return agent, "intent"
    if required:
        for agent in AGENTS.values():
            if required <= agent.capabilities:
                return agent, "capabilities"
        known = sorted(set().union(*(a.capabilities for a in AGENTS.values())))
        raise RoutingError(
            f"No agent has all of {', '.join(sorted(required))}. Known capabilities: {', '.join(known)}."
        )
    return AGENTS[FALLBACK_AGENT], "fallback"
