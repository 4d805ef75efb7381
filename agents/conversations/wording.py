"""What the customer reads, in Rioplatense Spanish: the copy is in templates/conversation/ (plain
text, nothing escaped), this module picks the template and fills it in. Numbers, money and dates
arrive formatted (strings), so the template's locale never reformats them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.template.loader import render_to_string

from agents.quotes.document import FAMILY_NAMES
from agents.quotes.pricing import QuoteSpecError, catalog_snapshot, quote_spec_parse
from bmc.conversations.models import Conversation

# Intents with a reply of their own (replies/<intent>.txt); any other is answered with "other".
REPLY_INTENTS = frozenset(
    {
        "greeting",
        "human_handoff",
        "opt_out",
        "complaint",
        "accept_quote",
        "decline_quote",
        "postpone",
        "order_status",
        "payment_notice",
        "promise_to_pay",
        "product_info",
        "other",
        "thanks",
        "audio",
        "location",
    }
)
# Measures the pricing may still need, each with its question (questions/<field>.txt).
QUESTION_FIELDS = frozenset({"length_m", "width_m", "run_m", "height_m"})
# Measures over the pricing's limits, each with its own explanation (spec_errors/<field>.txt).
SPEC_ERROR_FIELDS = frozenset({"length_m", "width_m", "run_m", "panel_count"})


def copy_render(template: str, /, **context: Any) -> str:
    """templates/conversation/<template>.txt filled in, as the customer reads it: the file's last
    newline is not part of the message, and nothing else is trimmed. (`template` goes by position
    only, so that any name is free for the template's values.)"""
    return render_to_string(f"conversation/{template}.txt", context).removesuffix("\n")


def reply_text(intent: str) -> str:
    """The reply to an intent that needs nothing but its words."""
    return copy_render(f"replies/{intent if intent in REPLY_INTENTS else 'other'}")


def question_text(field: str) -> str:
    """The question for a measure still missing; '' for a field without one."""
    return copy_render(f"questions/{field}") if field in QUESTION_FIELDS else ""


def alternatives_es(values: Iterable[Any]) -> str:
    """[100, 150, 200] -> '100, 150 o 200'."""
    words = [str(v) for v in values]
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} o {words[-1]}"


def first_lowered(text: str) -> str:
    """'Isodec EPS 100 mm...' -> 'isodec EPS 100 mm...': a summary read inside a sentence."""
    return f"{text[0].lower()}{text[1:]}"


def spec_question(spec: dict[str, Any], conversation: Conversation) -> str:
    """One clear question for the first thing the pricing still needs, or '' when complete."""
    catalog = catalog_snapshot(tenant=conversation.tenant)
    family = spec.get("family")
    if not family:
        return copy_render("questions/family", scenario=spec.get("scenario"))
    if not spec.get("thickness_mm") or spec["thickness_mm"] not in catalog.thicknesses(family):
        named = {
            "name": str(FAMILY_NAMES.get(family, family)),
            "thicknesses": alternatives_es(catalog.thicknesses(family)),
        }
        if spec.get("thickness_mm"):
            return copy_render("questions/thickness_unavailable", thickness=str(spec["thickness_mm"]), **named)
        return copy_render("questions/thickness", **named)
    try:
        quote_spec_parse(data=spec, catalog=catalog)
    except QuoteSpecError as error:
        # a measure still missing gets its question; any other error is explained when pricing
        return question_text(error.field) if "is required" in error.message else ""
    return ""


def spec_error_es(error: QuoteSpecError, spec: dict[str, Any], catalog) -> str:
    """The pricing's refusal, told to the customer."""
    item = catalog.items.get(f"{spec.get('family')}_{spec.get('thickness_mm')}")
    if error.code == "too_small":
        return copy_render("spec_errors/too_small")
    if error.field == "thickness_mm" and spec.get("family") in catalog.families():
        return copy_render("spec_errors/thickness_mm", thicknesses=alternatives_es(catalog.thicknesses(spec["family"])))
    if error.field == "color" and item and item.colors:
        return copy_render("spec_errors/color", colors=alternatives_es(c.lower() for c in item.colors))
    return copy_render(f"spec_errors/{error.field if error.field in SPEC_ERROR_FIELDS else 'other'}")
