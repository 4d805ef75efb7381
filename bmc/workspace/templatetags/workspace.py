"""Filters of the workspace's pages: money and figures the Uruguayan way, chart series for JSON."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django import template
from django.utils.formats import date_format, number_format

from bmc.workspace.present import spec_sentence

register = template.Library()


@register.filter
def money(value: Any) -> str:
    """1816.95 -> '1.816,95'."""
    if value in (None, ""):
        return ""
    return number_format(Decimal(value), decimal_pos=2, use_l10n=True, force_grouping=True)


@register.filter
def spec(value: dict) -> str:
    return spec_sentence(value or {})


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, datetime):
        return date_format(value, "SHORT_DATE_FORMAT")
    if isinstance(value, date):
        return date_format(value, "d/m")
    if isinstance(value, Decimal):
        return float(value)
    return value


@register.filter
def chart_data(value: Any) -> Any:
    """The charts' figures as JSON takes them: days as 02/12, amounts as numbers."""
    return _plain(value)
