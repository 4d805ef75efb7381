"""Structured records said for people: a quote's spec as a sentence, the bot's dialogue as what it
has and what it waits for."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from bmc.conversations.models import Zone

SCENARIOS = {"roof": gettext_lazy("roof"), "wall": gettext_lazy("wall"), "cold_room": gettext_lazy("cold room")}
INTENTS = {
    "quote_request": gettext_lazy("asks for a quote"),
    "product_info": gettext_lazy("asks about a product"),
    "order_status": gettext_lazy("asks about an order"),
    "payment": gettext_lazy("talks about a payment"),
    "complaint": gettext_lazy("complains"),
    "greeting": gettext_lazy("greets"),
    "human": gettext_lazy("asks for a person"),
    "accept": gettext_lazy("accepts"),
    "reject": gettext_lazy("declines"),
    "thanks": gettext_lazy("thanks"),
}
# what a quote cannot be priced without, in the order the bot asks for it
NEEDED = (
    ("family", gettext_lazy("the panel")),
    ("thickness_mm", gettext_lazy("the thickness")),
)


def _number(value: Any) -> str:
    try:
        return number_format(Decimal(str(value)).normalize(), use_l10n=True)
    except (InvalidOperation, ValueError, TypeError):
        return str(value)


def spec_sentence(spec: dict[str, Any]) -> str:
    """'ISODEC EPS 100 mm, roof of 6 x 4,48 m, 2 slopes, freight to Montevideo' (in Spanish)."""
    if not spec:
        return ""
    parts = []
    panel = " ".join(str(spec["family"]).replace("_", " ").split()) if spec.get("family") else ""
    if spec.get("thickness_mm"):
        panel = f"{panel} {_number(spec['thickness_mm'])} mm".strip()
    if panel:
        parts.append(panel)
    scenario = SCENARIOS.get(spec.get("scenario") or spec.get("use") or "", "")
    measures = [_number(spec[key]) for key in ("length_m", "width_m", "height_m") if spec.get(key) not in (None, "")]
    if measures:
        parts.append(
            _("%(what)s of %(measures)s m") % {"what": scenario or _("panels"), "measures": " × ".join(measures)}
        )
    elif scenario:
        parts.append(str(scenario))
    if spec.get("run_m"):
        parts.append(_("%(run)s m of wall") % {"run": _number(spec["run_m"])})
    if spec.get("panel_count"):
        parts.append(_("%(count)s panels") % {"count": _number(spec["panel_count"])})
    if spec.get("area_m2"):
        parts.append(_("%(area)s m²") % {"area": _number(spec["area_m2"])})
    if spec.get("slopes"):
        parts.append(_("%(slopes)s slope(s)") % {"slopes": spec["slopes"]})
    if spec.get("color"):
        parts.append(str(spec["color"]))
    if spec.get("zone"):
        zone = spec["zone"]
        parts.append(_("freight to %(zone)s") % {"zone": Zone(zone).label if zone in Zone.values else zone})
    return ", ".join(parts)


def spec_missing(spec: dict[str, Any]) -> list[str]:
    missing = [str(label) for key, label in NEEDED if not spec.get(key)]
    has_measures = any(spec.get(k) for k in ("length_m", "width_m", "run_m", "panel_count", "area_m2"))
    if not has_measures:
        missing.append(_("the measures"))
    return missing


def dialogue_lines(dialogue: dict[str, Any]) -> list[tuple[str, str]]:
    """The bot's memory of a conversation as label and sentence, for the thread's side panel."""
    dialogue = dialogue or {}
    spec = dialogue.get("spec") or {}
    lines: list[tuple[str, str]] = []
    if spec:
        lines.append((_("Asked for"), spec_sentence(spec)))
        missing = spec_missing(spec)
        lines.append((_("Waiting for"), ", ".join(missing) if missing else _("nothing: it can be quoted")))
    else:
        lines.append((_("Waiting for"), _("the customer to say what they need")))
    intents = [str(INTENTS.get(intent, intent.replace("_", " "))) for intent in dialogue.get("last_intents") or []]
    if intents:
        lines.append((_("Last message"), ", ".join(intents)))
    if dialogue.get("shipping") is not None:
        lines.append((_("Freight"), _("yes") if dialogue["shipping"] else _("no, they pick it up")))
    if dialogue.get("place_unknown"):
        lines.append((_("Place not recognised"), str(dialogue["place_unknown"])))
    if dialogue.get("last_quote_id"):
        lines.append((_("Last quote"), f"COT-{int(dialogue['last_quote_id']):06d}"))
    return lines
