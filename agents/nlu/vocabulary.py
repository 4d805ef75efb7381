"""The NLU's vocabulary: its intents, its entity keys and their values, and the schema of its
answer (NLU_SCHEMA; NLU_SCHEMA_OPENAI for a model's strict structured output)."""

from __future__ import annotations

from typing import Any

NLU_INTENTS: tuple[str, ...] = (
    "greeting",
    "quote_request",
    "product_info",
    "order_status",
    "payment_notice",
    "promise_to_pay",
    "accept_quote",
    "decline_quote",
    "postpone",
    "human_handoff",
    "complaint",
    "opt_out",
    "other",
)

NLU_ENTITY_KEYS: tuple[str, ...] = (
    "family",
    "thickness_mm",
    "use",
    "length_m",
    "width_m",
    "run_m",
    "area_m2",
    "panel_count",
    "height_m",
    "corners",
    "gutters",
    "drip_edges",
    "fixings",
    "sealant",
    "price_list",
    "slopes",
    "color",
    "zone",
    "shipping",
    "order_ref",
    "amount",
    "promised_date",
    "email",
    "name",
)

# What is quoted: the entities a turn carries into the quote's spec, in this order ("use" picks the
# spec's scenario by a rule of its own; the rest are about the customer, the order or money).
NLU_SPEC_KEYS: tuple[str, ...] = tuple(
    key
    for key in NLU_ENTITY_KEYS
    if key not in {"use", "shipping", "order_ref", "amount", "promised_date", "email", "name"}
)

NLU_FAMILIES: tuple[str, ...] = (
    "ISODEC_EPS",
    "ISODEC_PIR",
    "ISOROOF_3G",
    "ISOPANEL_EPS",
    "ISOWALL_PIR",
    "ISOFRIG_PIR",
)
NLU_USES: tuple[str, ...] = ("roof", "wall", "cold_room")
NLU_COLORS: tuple[str, ...] = ("Blanco", "Gris", "Rojo", "Verde")
NLU_ZONES: tuple[str, ...] = ("MONTEVIDEO", "CANELONES", "MALDONADO", "INTERIOR")

_ENTITY_SCHEMAS: dict[str, dict[str, Any]] = {
    "family": {"type": "string", "enum": list(NLU_FAMILIES)},
    "thickness_mm": {"type": "integer", "minimum": 1, "description": "panel thickness in mm (10 cm is 100)"},
    "use": {"type": "string", "enum": list(NLU_USES)},
    "length_m": {"type": "number", "exclusiveMinimum": 0, "description": "roof: along the slope; wall: height"},
    "width_m": {"type": "number", "exclusiveMinimum": 0, "description": "roof: the side across the panels"},
    "run_m": {"type": "number", "exclusiveMinimum": 0, "description": "wall: total linear meters"},
    "area_m2": {"type": "number", "exclusiveMinimum": 0},
    "panel_count": {"type": "integer", "minimum": 1},
    "height_m": {"type": "number", "exclusiveMinimum": 0, "description": "cold room: inner height"},
    "corners": {"type": "integer", "minimum": 0, "description": "wall: outside corners"},
    "gutters": {"type": "boolean", "description": "roof: true when gutters are asked for, false when refused"},
    "drip_edges": {"type": "boolean", "description": "roof: false when the customer leaves drip edges out"},
    "fixings": {"type": "boolean", "description": "false when the customer leaves the fixing kits out"},
    "sealant": {"type": "boolean", "description": "false when the customer leaves the silicone out"},
    "price_list": {"type": "string", "enum": ["venta", "web"], "description": "web when the web price is asked"},
    "slopes": {"type": "integer", "enum": [1, 2]},
    "color": {"type": "string", "enum": list(NLU_COLORS)},
    "zone": {"type": "string", "enum": list(NLU_ZONES)},
    "shipping": {"type": "boolean", "description": "true: wants delivery; false: picks up"},
    "order_ref": {"type": "string", "description": "order or quote number as mentioned"},
    "amount": {"type": "number", "exclusiveMinimum": 0, "description": "money amount mentioned"},
    "promised_date": {"type": "string", "format": "date", "description": "ISO date promised, America/Montevideo"},
    "email": {"type": "string", "format": "email"},
    "name": {"type": "string", "description": "the customer's own name"},
}

# Exactly what nlu_parse returns: entity keys are optional and never null (absent means not said).
NLU_SCHEMA: dict[str, Any] = {
    "title": "NluResult",
    "type": "object",
    "additionalProperties": False,
    "required": ["intent", "confidence", "entities"],
    "properties": {
        "intent": {"type": "string", "enum": list(NLU_INTENTS)},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "entities": {
            "type": "object",
            "additionalProperties": False,
            "properties": {key: dict(_ENTITY_SCHEMAS[key]) for key in NLU_ENTITY_KEYS},
        },
    },
}


def _schema_nullable(*, schema: dict[str, Any]) -> dict[str, Any]:
    nullable = dict(schema)
    nullable["type"] = [schema["type"], "null"]
    if "enum" in schema:
        nullable["enum"] = [*schema["enum"], None]
    return nullable


# OpenAI strict structured outputs require every property to be listed as required, so there each
# entity is nullable instead of optional; a caller must drop the nulls to get nlu_parse's shape.
NLU_SCHEMA_OPENAI: dict[str, Any] = {
    **NLU_SCHEMA,
    "properties": {
        **NLU_SCHEMA["properties"],
        "entities": {
            "type": "object",
            "additionalProperties": False,
            "required": list(NLU_ENTITY_KEYS),
            "properties": {key: _schema_nullable(schema=_ENTITY_SCHEMAS[key]) for key in NLU_ENTITY_KEYS},
        },
    },
}
