"""What the OpenAPI schema says beyond each view: the error answers every operation can give, in
one place, so the schema tells the truth about every status code the API sends."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "description": "Stable, e.g. invalid, not_found, broker_unavailable."},
                "message": {"type": "string", "description": "What is wrong and what is allowed."},
                "fields": {
                    "type": "object",
                    "additionalProperties": True,
                    "description": "For invalid input: each field that is wrong (by its path) and why.",
                },
            },
        }
    },
}

ERRORS = {
    "400": "Invalid input: which field is wrong and what is allowed (JSON that does not parse says the line and "
    "column; text with NUL or a lone surrogate, or JSON nested over 32 levels, is refused here too).",
    "401": "The API key is missing, wrong, revoked or expired.",
    "404": "No such record for this tenant, or an id that is not one.",
    "413": "The body is over the size limit (API_MAX_BODY_BYTES).",
    "429": "Over a limit of the company's tier: the key's requests per second (code rate_limited) or a quota "
    "of messages per day or documents per month (quota_exceeded). Retry-After says when to send again.",
}
RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before sending again.", "schema": {"type": "integer"}}}


CLOSED_OBJECTS = ("QuoteSpec",)


def error_responses(result: dict[str, Any], generator, request, public) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: every /api/v1 operation documents the errors it can
    answer, with the error body every error has."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = ERROR_SCHEMA
    for closed in CLOSED_OBJECTS:  # bodies whose unknown keys are refused
        if closed in schemas:
            schemas[closed]["additionalProperties"] = False
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, operations in result.get("paths", {}).items():
        if not path.startswith("/api/v1/"):
            continue
        for method, operation in operations.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            codes = ["400", "401"]
            if "{" in path:
                codes.append("404")
            if "requestBody" in operation:
                codes.append("413")
            if any("ApiKey" in scheme for scheme in operation.get("security", [])):
                codes.append("429")
            responses = operation.setdefault("responses", {})
            for code in codes:
                documented = responses.setdefault(code, {"description": ERRORS[code]})
                documented.setdefault("content", error)
                if code == "429":
                    documented.setdefault("headers", RETRY_AFTER)
            for code, documented in responses.items():
                if code[0] in "45" and "content" not in documented:
                    documented["content"] = error
    return result


PHONE_PATTERN = r"^[\s()-]*\+?[\s()-]*[1-9]([\s()-]*[0-9]){6,14}[\s()-]*$"
# what a customer wrote: something besides spaces
TEXT_PATTERN = r"\S"
MAX_TEXT = 4096
UNIX_TIME_MAX = 253402300799  # 9999-12-31T23:59:59Z


@extend_schema_field(
    {
        "description": "E.164 (+59899123456), or its digits alone; spaces, dashes and parentheses are ignored.",
        "type": "string",
        "pattern": PHONE_PATTERN,
        "example": "+59899123456",
    }
)
class PhoneField(serializers.CharField):
    pass


@extend_schema_field(
    {
        "description": "When it was sent: an RFC 3339 date-time with its offset (2026-11-21T10:00:00-03:00), or Unix "
        "seconds (a number, or its digits as a string).",
        "anyOf": [
            {"type": "string", "format": "date-time"},
            {"type": "string", "pattern": "^[0-9]{1,11}$"},
            {"type": "number", "minimum": 0, "maximum": UNIX_TIME_MAX},
        ],
        "example": "2026-11-21T10:00:00-03:00",
    }
)
class SentAtField(serializers.Field):
    def __init__(self, **kwargs):
        super().__init__(**({"allow_null": not kwargs.get("required", True)} | kwargs))


@extend_schema_field(
    {
        "description": "The customer's words.",
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_TEXT,
        "pattern": TEXT_PATTERN,
    }
)
class MessageTextField(serializers.CharField):
    pass


@extend_schema_field(
    {
        "description": "The provider's id of the message: a second delivery with the same id changes nothing.",
        "oneOf": [{"type": "string", "minLength": 1, "maxLength": 200}, {"type": "integer"}],
        "example": "wamid.HBgLNTk4OTkxMjM0NTY",
    }
)
class ExternalIdField(serializers.Field):
    def __init__(self, **kwargs):
        super().__init__(**({"allow_null": not kwargs.get("required", True)} | kwargs))


@extend_schema_field({"description": "The customer's name.", "type": "string", "maxLength": 200, "nullable": True})
class NameField(serializers.CharField):
    pass


CLOCK_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$"


@extend_schema_field(
    {
        "description": "A local time of day, HH:MM or HH:MM:SS (24 h); null for none.",
        "type": "string",
        "pattern": CLOCK_PATTERN,
        "nullable": True,
        "example": "21:00",
    }
)
class ClockTimeField(serializers.TimeField):
    """A time of day exactly as the schema says: 'HH:MM' or 'HH:MM:SS', nothing looser."""

    def to_internal_value(self, value):
        if not isinstance(value, str) or not re.match(CLOCK_PATTERN, value):
            self.fail("invalid", format="HH:MM or HH:MM:SS (24 h)")
        return super().to_internal_value(value)


AMOUNT_PATTERN = r"^[0-9]{1,10}(\.[0-9]{1,2})?$"


def amount_field(*, minimum: str, **kwargs) -> serializers.DecimalField:
    """Money as the schema says it: a number, or its digits as text with at most two decimals
    ('2500.00'); nothing looser (no exponents, signs or spaces)."""

    @extend_schema_field(
        {
            "anyOf": [
                {"type": "number", "minimum": float(minimum), "maximum": 9999999999.99},
                {"type": "string", "pattern": AMOUNT_PATTERN},
            ],
            "description": f"From {minimum}, at most two decimals, e.g. 2500.00.",
        }
    )
    class AmountField(serializers.DecimalField):
        def to_internal_value(self, data):
            if isinstance(data, bool) or not isinstance(data, str | int | float):
                self.fail("invalid")
            if isinstance(data, str) and not re.match(AMOUNT_PATTERN, data):
                self.fail("invalid")
            return super().to_internal_value(data)

    return AmountField(max_digits=12, decimal_places=2, min_value=Decimal(minimum), **kwargs)
