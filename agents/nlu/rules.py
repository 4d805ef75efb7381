"""The intent rules, kept as data in intents.toml: each an id, an intent, a weight, a pattern, and
messages it must and must not find (tests/agents/nlu/test_rules.py checks them)."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from agents.nlu.vocabulary import NLU_INTENTS

RULES_FILE = Path(__file__).with_name("intents.toml")
# Not an intent: what is wrong with a roof, a wall or a room. It counts for complaint unless a
# prospect describes what to fix (intent.py).
CONDITION = "condition"


@dataclass(frozen=True)
class Rule:
    id: str
    intent: str
    weight: int
    pattern: re.Pattern[str]
    match: tuple[str, ...]
    no_match: tuple[str, ...]


class RulesError(ValueError):
    """intents.toml holds a rule that cannot be used."""


def rules_load(*, path: Path = RULES_FILE) -> tuple[Rule, ...]:
    """The rules of `path`, in file order. Raises RulesError naming the rule and what is wrong."""
    with path.open("rb") as file:
        raw = tomllib.load(file).get("rule", [])
    rules, seen = [], set()
    for position, entry in enumerate(raw, 1):
        rule_id = entry.get("id") or f"#{position}"
        missing = {"id", "intent", "weight", "pattern", "match", "no_match"} - entry.keys()
        if missing:
            raise RulesError(f"Rule {rule_id} in {path.name} lacks {', '.join(sorted(missing))}.")
        if rule_id in seen:
            raise RulesError(f"Rule id {rule_id} appears twice in {path.name}.")
        if entry["intent"] not in (*NLU_INTENTS, CONDITION):
            raise RulesError(
                f"Rule {rule_id}: unknown intent {entry['intent']!r}; allowed: {', '.join(NLU_INTENTS)}, {CONDITION}."
            )
        if not isinstance(entry["weight"], int) or entry["weight"] < 1:
            raise RulesError(f"Rule {rule_id}: weight must be a positive integer, got {entry['weight']!r}.")
        try:
            pattern = re.compile(entry["pattern"])
        except re.error as error:
            raise RulesError(f"Rule {rule_id}: the pattern does not compile ({error}).") from error
        seen.add(rule_id)
        rules.append(
            Rule(rule_id, entry["intent"], entry["weight"], pattern, tuple(entry["match"]), tuple(entry["no_match"]))
        )
    return tuple(rules)


RULES = rules_load()
