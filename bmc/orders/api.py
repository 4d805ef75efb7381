"""Orders over the API: made from a quote, listed, read."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from agents.orders.service import OrderRefused, order_place
from bmc.core.models import NotInTenant
from bmc.orders.models import Order, OrderLine


class OrderIn(serializers.Serializer):
    quote_id = serializers.IntegerField(min_value=1, help_text="A quote of this company, sent or accepted, in date.")


class OrderLineOut(serializers.ModelSerializer):
    class Meta:
        model = OrderLine
        fields = ("position", "sku", "description", "unit", "quantity", "unit_price", "amount")


class OrderOut(serializers.ModelSerializer):
    number = serializers.CharField(read_only=True)
    quote_number = serializers.CharField(source="quote.number", read_only=True)
    lines = OrderLineOut(many=True, read_only=True)
    payment_url = serializers.SerializerMethodField()

    class Meta:
        model = Order
        fields = (
            "id",
            "number",
            "status",
            "stock",
            "source",
            "external_id",
            "buyer",
            "quote_id",
            "quote_number",
            "customer_id",
            "conversation_id",
            "catalog_version_id",
            "currency",
            "subtotal",
            "iva",
            "total",
            "zone",
            "delivery_date",
            "payment_url",
            "paid_at",
            "delivered_at",
            "cancelled_at",
            "cancel_reason",
            "created_at",
            "lines",
        )

    def get_payment_url(self, order: Order) -> str | None:
        return order.payment_url or None


class OrderQuery(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=Order.Status.choices, required=False, allow_blank=True, help_text="Only in this status (empty: any)."
    )
    customer = serializers.IntegerField(required=False, min_value=1, help_text="Only this customer's (id).")


@extend_schema(
    tags=["orders"],
    methods=["POST"],
    request=OrderIn,
    responses={
        201: OrderOut,
        400: OpenApiResponse(description="A quote that cannot be ordered: `fields.quote_id` says why."),
    },
)
@extend_schema(
    tags=["orders"],
    methods=["GET"],
    parameters=[OrderQuery],
    responses={200: OrderOut(many=True)},
)
@api_view(["GET", "POST"])
def orders_view(request: Request) -> Response:
    """GET: the company's orders, newest first (`?status=pending_payment&customer=12`), at most 500.
    POST: the order of a quote (accepted by it, if it was only sent); its stock is reserved and the
    customer asked to pay by the order's workflow, as when the customer says "dale"."""
    if request.method == "GET":
        query = OrderQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        orders = Order.objects.filter(tenant=request.tenant).select_related("quote").prefetch_related("lines")
        if query.validated_data.get("status"):
            orders = orders.filter(status=query.validated_data["status"])
        if query.validated_data.get("customer"):
            orders = orders.filter(customer_id=query.validated_data["customer"])
        return Response(OrderOut(orders[:500], many=True).data)
    incoming = OrderIn(data=request.data)
    incoming.is_valid(raise_exception=True)
    quote_id = incoming.validated_data["quote_id"]
    try:
        order = order_place(
            tenant=request.tenant, quote_id=quote_id, source=Order.Source.API, trace_id=request._request.trace_id
        )
    except OrderRefused as refused:
        raise serializers.ValidationError({"quote_id": [str(refused)]}) from None
    except NotInTenant:
        raise serializers.ValidationError(
            {"quote_id": [f"Quote {quote_id} is not one of this company's quotes."]}
        ) from None
    return Response(OrderOut(order).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["orders"], responses={200: OrderOut, 404: OpenApiResponse(description="No such order here.")})
@api_view(["GET"])
def order_detail_view(request: Request, order_id: int) -> Response:
    order = get_object_or_404(Order.objects.prefetch_related("lines"), pk=order_id, tenant=request.tenant)
    return Response(OrderOut(order).data)
