"""The intent rules as data (agents/nlu/intents.toml): every rule finds the messages it names and
misses its near misses, and a broken rule file is refused with the rule and the reason."""

from __future__ import annotations

import re

import pytest

from agents.nlu.rules import CONDITION, RULES, RulesError, rules_load
from agents.nlu.text import text_normalize
from agents.nlu.vocabulary import NLU_INTENTS


@pytest.mark.parametrize("rule", RULES, ids=[rule.id for rule in RULES])
def test_rule_finds_its_examples_and_misses_its_near_misses(rule):
    assert rule.match and rule.no_match, f"{rule.id} needs messages it must and must not find"
    for message in rule.match:
        assert rule.pattern.search(text_normalize(text=message)), f"{rule.id} should find {message!r}"
    for message in rule.no_match:
        assert not rule.pattern.search(text_normalize(text=message)), f"{rule.id} should not find {message!r}"


def test_rule_ids_are_unique_and_name_their_intent():
    ids = [rule.id for rule in RULES]
    assert len(ids) == len(set(ids))
    for rule in RULES:
        assert re.fullmatch(rf"{rule.intent}\.\d{{2}}", rule.id), rule.id


def test_every_intent_has_rules():
    covered = {rule.intent for rule in RULES}
    # A promise to pay is scored in intent.py: a payment verb and a when, wherever they are.
    assert set(NLU_INTENTS) - covered == {"promise_to_pay"}
    assert CONDITION in covered


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            '[[rule]]\nid = "greeting.01"\nintent = "greeting"\nweight = 2\npattern = "hola"\nmatch = ["hola"]\n',
            "Rule greeting.01 in rules.toml lacks no_match.",
        ),
        (
            '[[rule]]\nid = "hi.01"\nintent = "hi"\nweight = 2\npattern = "hola"\nmatch = []\nno_match = []\n',
            "Rule hi.01: unknown intent 'hi'; allowed: greeting",
        ),
        (
            '[[rule]]\nid = "greeting.01"\nintent = "greeting"\nweight = 0\npattern = "hola"\nmatch = []\nno_match = []\n',
            "Rule greeting.01: weight must be a positive integer, got 0.",
        ),
        (
            '[[rule]]\nid = "greeting.01"\nintent = "greeting"\nweight = 2\npattern = "(hola"\nmatch = []\nno_match = []\n',
            "Rule greeting.01: the pattern does not compile",
        ),
        (
            '[[rule]]\nid = "greeting.01"\nintent = "greeting"\nweight = 2\npattern = "hola"\nmatch = []\nno_match = []\n'
            * 2,
            "Rule id greeting.01 appears twice in rules.toml.",
        ),
    ],
)
def test_a_broken_rule_file_is_refused_with_the_rule_and_the_reason(tmp_path, body, message):
    path = tmp_path / "rules.toml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(RulesError) as error:
        rules_load(path=path)
    assert str(error.value).startswith(message)
