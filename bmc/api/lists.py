"""The lists n8n walks: the filters they share, and cursor pagination stable under inserts (a
page never repeats or skips a record that arrived meanwhile), newest first, `?cursor=` from the
previous page's `next`."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from drf_spectacular.utils import inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.fields import empty
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response


class NewestFirst(CursorPagination):
    ordering = "-id"
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 200


def page_response(request: Request, queryset, payload: Callable[[Any], dict]) -> Response:
    paginator = NewestFirst()
    try:
        page: Iterable = paginator.paginate_queryset(queryset, request)
    except NotFound:  # DRF's answer to a cursor it cannot read; the caller sent bad input
        raise serializers.ValidationError(
            {"cursor": ["Not a cursor this list gave: pass the `next` or `previous` of a page as it came."]}
        ) from None
    return paginator.get_paginated_response([payload(record) for record in page])


def page_schema(item: str, fields: dict[str, serializers.Field]) -> serializers.Serializer:
    """The schema of a page of `item`s (named `{item}Page`), each with these fields."""
    return inline_serializer(
        f"{item}Page",
        {
            "next": serializers.URLField(allow_null=True, help_text="The next (older) page, or null at the end."),
            "previous": serializers.URLField(allow_null=True, help_text="The newer page, or null on the first."),
            "results": inline_serializer(item, fields, many=True),
        },
    )


class MomentField(serializers.DateTimeField):
    """A moment in a query string; an empty one is refused, not taken for absent as DRF does."""

    def get_value(self, dictionary):
        return dictionary.get(self.field_name, empty)


class ListQuery(serializers.Serializer):
    """Filters every list of records n8n reads shares."""

    customer = serializers.IntegerField(required=False, min_value=1, help_text="Only this customer's (id).")
    since = MomentField(
        required=False,
        help_text="Only what changed at or after this moment (RFC 3339, e.g. 2026-12-01T00:00:00-03:00).",
    )
    assigned = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=150,
        help_text="Only those assigned to this staff user (their username); `none`: nobody's yet; empty: anyone's.",
    )
    limit = serializers.IntegerField(required=False, min_value=1, max_value=200, help_text="Per page (default 50).")
    cursor = serializers.CharField(
        required=False, allow_blank=True, help_text="From the previous page's `next` (empty or absent: the first page)."
    )


def assigned_filter(value: str | None, field: str) -> dict:
    if not value:
        return {}
    return {f"{field}__isnull": True} if value == "none" else {f"{field}__username": value}
