"""Replay of domain events: a consumer that missed deliveries reads on from the last id it saw."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from bmc.events.models import DomainEvent

PAGE_MAX = 500


class EventQuery(serializers.Serializer):
    after = serializers.IntegerField(
        min_value=0, default=0, help_text="The last event id already read; 0 (the default) for the first."
    )
    type = serializers.CharField(
        required=False, allow_blank=True, max_length=80, help_text="Only events of this type (empty: every type)."
    )
    limit = serializers.IntegerField(min_value=1, max_value=PAGE_MAX, default=100, help_text="At most this many.")


class EventSerializer(serializers.ModelSerializer):
    class Meta:
        model = DomainEvent
        fields = ("id", "type", "subject", "data", "created_at")


EventPage = inline_serializer(
    "EventPage",
    {
        "events": EventSerializer(many=True),
        "next_after": serializers.IntegerField(help_text="Pass as `after` to read on."),
        "has_more": serializers.BooleanField(help_text="More events follow this page."),
    },
)


@extend_schema(tags=["events"], parameters=[EventQuery], responses={200: EventPage})
@api_view(["GET"])
def events_view(request: Request) -> Response:
    """The tenant's domain events after an id, in the order they happened (`?after=41&type=quote.accepted`),
    the same body a subscription receives for each."""
    query = EventQuery(data=request.query_params)
    query.is_valid(raise_exception=True)
    wanted = query.validated_data
    events = DomainEvent.objects.filter(tenant=request.tenant, id__gt=wanted["after"]).order_by("id")
    if wanted.get("type"):
        events = events.filter(type=wanted["type"])
    page = list(events[: wanted["limit"] + 1])
    has_more = len(page) > wanted["limit"]
    page = page[: wanted["limit"]]
    return Response(
        {
            "events": EventSerializer(page, many=True).data,
            "next_after": page[-1].pk if page else wanted["after"],
            "has_more": has_more,
        }
    )
