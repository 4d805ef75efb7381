"""How well the product reads customers it has never seen: per labelled set, the NLU's intent
accuracy and exact entity keys, and, end to end, whether each quote request gets the right quote.

    .venv/bin/python bench/reader_accuracy.py [sets.jsonl ...] [--no-e2e] [--misses N]

The default sets are the held-out ones under tests/data/heldout/. End to end, the whole system runs
in this process (a fresh SQLite database under var/reader_accuracy, the embedded Redis or REDIS_URL,
a Celery worker in a thread): each quote request is posted to /api/v1/messages from a customer of
its own, as n8n would, and once the reply is sent the quote the system made is compared with the
one the pricing contract gives for the message's labels:
- labels that price: right when the system's one quote has that total;
- labels that cannot price (a measure missing, a thickness not made): right when no quote was made
  and a reply (the question, or the reason) was sent.
Not a test: it reports, it does not gate (the tests keep the regression sets).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
VAR = ROOT / "var" / "reader_accuracy"
DEFAULT_SETS = sorted((ROOT / "tests" / "data" / "heldout").glob("*.jsonl"))

from bench.inprocess import environment_running, system_prepare, worker_running  # noqa: E402
from bench.nlu_eval import examples_load, examples_score  # noqa: E402

# Labels that are the pricing contract's spec keys, as they are.
SPEC_LABELS = (
    "family",
    "thickness_mm",
    "length_m",
    "width_m",
    "run_m",
    "height_m",
    "area_m2",
    "panel_count",
    "slopes",
    "corners",
    "color",
    "gutters",
    "drip_edges",
    "fixings",
    "sealant",
    "price_list",
    "zone",
)


def spec_from_labels(entities: dict[str, Any]) -> dict[str, Any]:
    """The spec a message's labels ask to price: its use is the scenario; picking up drops freight."""
    spec = {key: entities[key] for key in SPEC_LABELS if key in entities}
    if entities.get("use"):
        spec["scenario"] = entities["use"]
    if entities.get("shipping") is False:
        spec.pop("zone", None)
    return spec


def expected_total(entities: dict[str, Any], catalog) -> str | None:
    """The contract's total for these labels, or None when they cannot be priced."""
    from agents.quotes.pricing import QuoteSpecError, quote_price, quote_spec_parse

    try:
        spec = quote_spec_parse(data=spec_from_labels(entities), catalog=catalog)
    except QuoteSpecError:
        return None
    return str(quote_price(spec=spec, catalog=catalog).total)


def nlu_score(examples: list[dict[str, Any]]) -> dict[str, Any]:
    report = examples_score(examples=examples)
    misses = [(miss["example"], miss["result"]) for miss in report["misses"]]
    return {"intent": report["intent_accuracy"], "entities": report["entity_exact"], "misses": misses}


def e2e_score(examples: list[dict[str, Any]], *, client, prefix: str) -> dict[str, Any]:
    """Each quote request posted by a customer of its own; the quotes made, against the contract."""
    from django.utils import timezone

    from agents.quotes.pricing import catalog_snapshot
    from bmc.conversations.models import Conversation, Message
    from bmc.core.models import Tenant
    from bmc.quotes.models import Quote

    catalog = catalog_snapshot(tenant=Tenant.objects.get(slug="bmc"))
    requests = [e for e in examples if e["intent"] == "quote_request"]
    phones = {}
    for number, example in enumerate(requests):
        phone = f"+5989{prefix}{number:05d}"
        phones[example["id"]] = phone
        response = client.post(
            "/api/v1/messages",
            {
                "channel": "n8n",
                "from": phone,
                "external_id": f"{prefix}-{example['id']}",
                "sent_at": timezone.now().isoformat(),
                "text": example["text"],
            },
            content_type="application/json",
        )
        assert response.status_code == 202, response.content
    deadline = time.monotonic() + 30 + 2 * len(requests)
    answered: set[str] = set()
    while len(answered) < len(phones) and time.monotonic() < deadline:
        answered = set(
            Message.objects.filter(direction="out", conversation__customer__phone__in=phones.values()).values_list(
                "conversation__customer__phone", flat=True
            )
        )
        time.sleep(0.5)
    right, misses = 0, []
    for example in requests:
        phone = phones[example["id"]]
        expected = expected_total(example["entities"], catalog)
        totals = [str(q.total) for q in Quote.objects.filter(customer__phone=phone)]
        replied = phone in answered
        ok = replied and (totals == [expected] if expected else not totals)
        right += ok
        if not ok:
            conversation = Conversation.objects.filter(customer__phone=phone).first()
            reply = conversation and conversation.messages.filter(direction="out").order_by("pk").last()
            misses.append((example, expected, totals, reply.text if reply else "(no reply)"))
    return {"count": len(requests), "right": right / (len(requests) or 1), "misses": misses}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="*", type=Path, default=DEFAULT_SETS)
    parser.add_argument("--no-e2e", action="store_true", help="score the NLU only")
    parser.add_argument("--misses", type=int, default=15, help="misses shown per set and measure")
    args = parser.parse_args()
    if not args.paths:
        print("No labelled sets given, and none under tests/data/heldout/.")
        return 0
    with environment_running(var=VAR):
        return run(args)


def run(args) -> int:
    from django.test import Client

    client = Client(HTTP_AUTHORIZATION=f"Bearer {system_prepare(key_name='accuracy')}")
    rows = []
    with worker_running():
        for number, path in enumerate(args.paths):
            examples = examples_load(path=path)
            nlu = nlu_score(examples)
            e2e = None if args.no_e2e else e2e_score(examples, client=client, prefix=f"{number:02d}")
            rows.append((path, len(examples), nlu, e2e))
            misses_print(path=path, nlu=nlu, e2e=e2e, limit=args.misses)
    print(f"\n{'set':<28} {'messages':>8} {'intent':>7} {'entities':>8} {'quotes right':>14}")
    for path, count, nlu, e2e in rows:
        quotes = f"{e2e['right']:.3f} of {e2e['count']}" if e2e else "-"
        print(f"{path.name:<28} {count:>8} {nlu['intent']:>7.3f} {nlu['entities']:>8.3f} {quotes:>14}")
    return 0


def misses_print(*, path: Path, nlu: dict[str, Any], e2e: dict[str, Any] | None, limit: int) -> None:
    print(f"\n== {path.name}: {len(nlu['misses'])} NLU misses, {len(e2e['misses']) if e2e else '-'} quote misses")
    for example, result in nlu["misses"][:limit]:
        expected, got = example["entities"], result["entities"]
        diff = {k: (expected.get(k), got.get(k)) for k in set(expected) | set(got) if expected.get(k) != got.get(k)}
        intent = "" if result["intent"] == example["intent"] else f" intent {example['intent']}->{result['intent']}"
        print(f"  {example['id']}: {example['text'][:110]!r}{intent} {diff or ''}")
    for example, expected, totals, reply in (e2e["misses"] if e2e else [])[:limit]:
        print(f"  quote {example['id']}: expected {expected}, made {totals}; {example['text'][:90]!r}")
        print(f"      reply: {reply[:160]!r}")


if __name__ == "__main__":
    sys.exit(main())
