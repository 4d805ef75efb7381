"""Score agents.nlu on a labelled JSONL file: intent accuracy, exact entity match, per-intent accuracy, misses.

Usage: .venv/bin/python bench/nlu_eval.py [path.jsonl]
The default file is the development set, agents/nlu/training/dev.jsonl. Always exits 0: it
reports, it does not gate (the tests do).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PATH = ROOT / "agents" / "nlu" / "training" / "dev.jsonl"

# Run as a plain script, so the repository root is not on sys.path by itself.
sys.path.insert(0, str(ROOT))

from agents.nlu import nlu_parse  # noqa: E402


def examples_load(*, path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def examples_score(*, examples: list[dict[str, Any]]) -> dict[str, Any]:
    intent_hits = entity_hits = 0
    per_intent_total: Counter[str] = Counter()
    per_intent_hits: Counter[str] = Counter()
    misses = []
    for example in examples:
        result = nlu_parse(text=example["text"], sent_at=example.get("sent_at"))
        intent_ok = result["intent"] == example["intent"]
        entities_ok = result["entities"] == example["entities"]
        intent_hits += intent_ok
        entity_hits += entities_ok
        per_intent_total[example["intent"]] += 1
        per_intent_hits[example["intent"]] += intent_ok
        if not (intent_ok and entities_ok):
            misses.append({"example": example, "result": result, "intent_ok": intent_ok})
    total = len(examples) or 1
    return {
        "count": len(examples),
        "intent_accuracy": intent_hits / total,
        "entity_exact": entity_hits / total,
        "per_intent": {
            intent: (per_intent_hits[intent], per_intent_total[intent]) for intent in sorted(per_intent_total)
        },
        "misses": misses,
    }


def _entities_diff(*, expected: dict[str, Any], got: dict[str, Any]) -> str:
    parts = []
    for key in sorted(set(expected) | set(got)):
        if expected.get(key, "<absent>") != got.get(key, "<absent>"):
            parts.append(f"{key}: expected {expected.get(key, '<absent>')!r}, got {got.get(key, '<absent>')!r}")
    return "; ".join(parts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", type=Path, default=DEFAULT_PATH, help="labelled JSONL file")
    args = parser.parse_args()
    if not args.path.exists():
        print(f"No labelled file at {args.path}.")
        return 0

    report = examples_score(examples=examples_load(path=args.path))
    print(f"file: {args.path}")
    print(f"examples: {report['count']}")
    print(f"intent accuracy: {report['intent_accuracy']:.3f}")
    print(f"entity keys exact: {report['entity_exact']:.3f}")
    print("per intent:")
    for intent, (hits, total) in report["per_intent"].items():
        print(f"  {intent:<15} {hits}/{total}  {hits / total:.2f}")
    print(f"misses: {len(report['misses'])}")
    for miss in report["misses"]:
        example, result = miss["example"], miss["result"]
        print(f"- {example.get('id', '?')}: {example['text']}")
        if not miss["intent_ok"]:
            print(f"    intent: expected {example['intent']}, got {result['intent']} ({result['confidence']})")
        diff = _entities_diff(expected=example["entities"], got=result["entities"])
        if diff:
            print(f"    entities: {diff}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
