"""JSON log lines carrying the context of the work being done.

The context (trace_id, task_id, agent, tenant) lives in contextvars set by the API middleware
and by the Celery task signals; every record gets it, and nothing secret is ever written:
API keys and bearer tokens are masked, and phone numbers keep only their last four digits.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import re
from collections.abc import Iterator

from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

CONTEXT_FIELDS = ("trace_id", "task_id", "agent", "tenant")
_context: contextvars.ContextVar[dict[str, str]] = contextvars.ContextVar("bmc_log_context")

_SECRET_PATTERNS = [
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._\-]+"), r"\1[redacted]"),
    # API keys as issued: an 8-character prefix, a dot, the secret
    (re.compile(r"\b([A-Za-z0-9]{8})\.[A-Za-z0-9]{20,}\b"), r"\1.[redacted]"),
    (re.compile(r"(?i)(password|secret|token)=[^\s&\"',}]+"), r"\1=[redacted]"),
    # +59899123456 -> +5989***3456: enough to tell customers apart in a log, not to call them
    (re.compile(r"(?<![\w.])(\+?\d{4})\d{3,7}(\d{4})(?![\w.])"), r"\1***\2"),
]


def redact(text: str) -> str:
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def log_context_bind(**fields: str | None) -> contextvars.Token:
    merged = {**_context.get({}), **{k: str(v) for k, v in fields.items() if v is not None}}
    return _context.set(merged)


def log_context_reset(token: contextvars.Token) -> None:
    _context.reset(token)


@contextlib.contextmanager
def log_context(**fields: str | None) -> Iterator[None]:
    token = log_context_bind(**fields)
    try:
        yield
    finally:
        log_context_reset(token)


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        context = _context.get({})
        for field in CONTEXT_FIELDS:
            if not hasattr(record, field):
                setattr(record, field, context.get(field))
        return True


class JsonFormatter(_JsonFormatter):
    def process_log_record(self, log_record: dict) -> dict:
        for key, value in list(log_record.items()):
            if isinstance(value, str) and key not in CONTEXT_FIELDS:
                log_record[key] = redact(value)
        return log_record
