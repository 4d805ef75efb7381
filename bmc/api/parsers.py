"""JSON bodies, read so that no input can make the server fail: nesting is measured before the
body is parsed, and text that no database can store (NUL) or that is not text at all (a lone
UTF-16 surrogate such as "\\ud800") is refused naming where it is."""

from __future__ import annotations

import json
import re
from typing import Any

from rest_framework import serializers
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

# Deeper than any body this API takes (a WhatsApp delivery nests 7 levels); Python's own parser
# and everything after it recurse once per level.
MAX_JSON_DEPTH = 32

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = str.maketrans("", "", "".join(chr(c) for c in range(128) if chr(c) not in "[]{}"))
_SURROGATE = re.compile("[\ud800-\udfff]")


def json_depth_check(text: str) -> None:
    """Refuse a body nested deeper than MAX_JSON_DEPTH before it is parsed (ParseError)."""
    brackets = _STRING.sub("", text).translate(_BRACKETS)
    depth = 0
    for char in brackets:
        if char in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                raise ParseError(
                    f"JSON nested deeper than {MAX_JSON_DEPTH} levels of arrays and objects; no body of this API "
                    "needs more."
                )
        elif char in "]}":
            depth -= 1


def text_problem(value: str) -> str:
    """Why a string cannot be taken as text ('' when it can)."""
    if "\x00" in value:
        return "contains the NUL character (\\u0000), which text cannot hold."
    surrogate = _SURROGATE.search(value)
    if surrogate:
        return (
            f"contains a lone UTF-16 surrogate (\\u{ord(surrogate.group()):04x}), which is not a character: send "
            "text as UTF-8, or escape characters beyond U+FFFF as a surrogate pair."
        )
    return ""


def text_problems(data: Any, path: str = "") -> dict[str, list[str]]:
    """Every key or string value in parsed JSON that is not text, by its path ('metadata.note',
    'items[2].name'). The depth is already bounded, so this recursion is too."""
    problems: dict[str, list[str]] = {}
    if isinstance(data, str):
        problem = text_problem(data)
        if problem:
            problems[path or "body"] = [problem]
    elif isinstance(data, dict):
        for key, value in data.items():
            here = f"{path}.{key}" if path else str(key)
            problem = text_problem(key)
            if problem:
                problems[(path + "." if path else "") + repr(key)] = [f"the key {problem}"]
                continue
            problems.update(text_problems(value, here))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            problems.update(text_problems(value, f"{path}[{index}]"))
    return problems


def json_body_parse(raw: bytes) -> Any:
    """Parse a JSON body whole or refuse it: ParseError for what is not JSON (its line and
    column), too deep, or not UTF-8; ValidationError naming each field that is not text."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ParseError(f"The body is not UTF-8 (byte {error.start}); JSON bodies must be.") from None
    json_depth_check(text)
    try:
        data = json.loads(text)
    except ValueError as error:
        raise ParseError(f"JSON parse error - {error}") from None
    problems = text_problems(data)
    if problems:
        raise serializers.ValidationError(problems)
    return data


class SafeJSONParser(JSONParser):
    """DRF's JSON parser, with json_body_parse's limits: every JSON endpoint gets them."""

    def parse(self, stream, media_type=None, parser_context=None):
        return json_body_parse(stream.read() if stream is not None else b"")
