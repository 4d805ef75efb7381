"""Follow-up policy, follow-up effectiveness, invoices and staff tasks."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from agents.conversations.inbound import InboundError, phone_normalize, rfc3339_parse
from agents.sales.dunning import InvoiceStateError, invoice_mark_paid
from agents.sales.followup import followup_effectiveness, policy_for
from bmc.api.schema import ClockTimeField, PhoneField, amount_field
from bmc.conversations.models import Customer
from bmc.sales.models import FollowUpPolicy, Invoice, StaffTask
from bmc.sales.policy import policy_errors

POLICY_FIELDS = (
    "enabled",
    "steps_hours",
    "max_attempts",
    "quiet_start",
    "quiet_end",
    "quiet_weekdays",
    "timezone",
    "rewrite_with_model",
    "whatsapp_template",
    "whatsapp_template_language",
    "expiry_reminder",
    "order_wait_days",
    "dunning_enabled",
    "dunning_firm_after_days",
    "dunning_staff_after_days",
    "dunning_repeat_days",
)


@extend_schema_field(
    {
        "type": "array",
        "items": {"type": "integer", "minimum": 1},
        "minItems": 1,
        "maxItems": 10,
        "description": "Hours after the quote is sent, each later than the one before, e.g. [24, 48, 72].",
    }
)
class StepsField(serializers.JSONField):
    pass


@extend_schema_field(
    {
        "type": "array",
        "items": {"type": "integer", "minimum": 0, "maximum": 6},
        "maxItems": 7,
        "description": "Days without sends, 0 Monday ... 6 Sunday, e.g. [6]; not all seven.",
    }
)
class WeekdaysField(serializers.JSONField):
    pass


class PolicySerializer(serializers.ModelSerializer):
    # the schema says what the model's validators and policy_errors say, where one field can
    max_attempts = serializers.IntegerField(min_value=1, max_value=10)
    # days, as small numbers whatever the database (the schema says the same to every install)
    order_wait_days = serializers.IntegerField(
        min_value=0,
        max_value=32767,
        required=False,
        help_text="An accepted quote with no order after this many days becomes a staff task.",
    )
    dunning_firm_after_days = serializers.IntegerField(min_value=0, max_value=32767, required=False)
    dunning_staff_after_days = serializers.IntegerField(min_value=0, max_value=32767, required=False)
    dunning_repeat_days = serializers.IntegerField(
        min_value=0, max_value=32767, required=False, help_text="Days between two reminders of the same invoice."
    )
    steps_hours = StepsField()
    quiet_weekdays = WeekdaysField()
    quiet_start = ClockTimeField(allow_null=True, required=False, help_text="No sends from this local time...")
    quiet_end = ClockTimeField(allow_null=True, required=False, help_text="...until this one.")

    class Meta:
        model = FollowUpPolicy
        fields = POLICY_FIELDS
        extra_kwargs = {"timezone": {"min_length": 1}, "whatsapp_template_language": {"min_length": 1}}

    def validate(self, attrs):
        merged = {f: attrs.get(f, getattr(self.instance, f, None)) for f in POLICY_FIELDS}
        errors = policy_errors(
            steps_hours=merged["steps_hours"],
            max_attempts=merged["max_attempts"],
            quiet_start=merged["quiet_start"],
            quiet_end=merged["quiet_end"],
            quiet_weekdays=merged["quiet_weekdays"],
            timezone_name=merged["timezone"],
        )
        if not errors and not merged["dunning_firm_after_days"] < merged["dunning_staff_after_days"]:
            errors["dunning_staff_after_days"] = (
                f"must be later than the firm reminder ({merged['dunning_firm_after_days']} days)."
            )
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class PolicyReplaceSerializer(PolicySerializer):
    """PUT: the whole policy, every field."""

    def get_fields(self):
        fields = super().get_fields()
        for field in fields.values():
            field.required = True
        return fields


@extend_schema(tags=["follow-ups"], methods=["GET"], responses={200: PolicySerializer})
@extend_schema(tags=["follow-ups"], methods=["PUT"], request=PolicyReplaceSerializer, responses={200: PolicySerializer})
@extend_schema(tags=["follow-ups"], methods=["PATCH"], request=PolicySerializer, responses={200: PolicySerializer})
@api_view(["GET", "PUT", "PATCH"])
def followup_policy_view(request: Request) -> Response:
    """The tenant's follow-up policy. PUT replaces it whole (every field), PATCH changes what it
    names; anything unsound (steps out of order, negative delays, quiet hours that leave no time
    to send) is refused, field by field."""
    policy = policy_for(tenant_id=request.tenant.pk)
    if request.method == "GET":
        return Response(PolicySerializer(policy).data)
    if request.method == "PUT":
        serializer = PolicyReplaceSerializer(policy, data=request.data)
        serializer.is_valid(raise_exception=True)
        serializer.save()
        return Response(PolicySerializer(serializer.instance).data)
    serializer = PolicySerializer(policy, data=request.data, partial=True)
    serializer.is_valid(raise_exception=True)
    serializer.save()
    return Response(serializer.data)


EffectivenessStep = inline_serializer(
    "FollowUpStepEffectiveness",
    {
        "kind": serializers.ChoiceField(choices=["step", "expiry"]),
        "step": serializers.IntegerField(),
        "sent": serializers.IntegerField(),
        "delivered": serializers.IntegerField(),
        "read": serializers.IntegerField(),
        "answered_24h": serializers.IntegerField(),
        "accepted_after": serializers.IntegerField(),
        "answer_rate": serializers.FloatField(),
    },
    many=True,
)


@extend_schema(
    tags=["follow-ups"],
    parameters=[
        OpenApiParameter(
            "since",
            OpenApiTypes.DATETIME,
            description="RFC 3339 date-time with its offset: only follow-ups sent since then.",
        )
    ],
    responses={200: inline_serializer("FollowUpEffectiveness", {"steps": EffectivenessStep})},
)
@api_view(["GET"])
def followup_effectiveness_view(request: Request) -> Response:
    """Per step: sent, delivered, read, answered within 24 h, quotes accepted after it."""
    since: datetime | None = None
    if "since" in request.query_params:
        since = rfc3339_parse(request.query_params["since"])
        if since is None:
            raise serializers.ValidationError(
                {"since": ["Use an RFC 3339 date-time with its offset, e.g. 2026-11-01T00:00:00-03:00."]}
            )
    return Response({"steps": followup_effectiveness(tenant_id=request.tenant.pk, since=since)})


class InvoiceSerializer(serializers.ModelSerializer):
    customer_phone = PhoneField(write_only=True, help_text="The customer's phone; the customer is created if new.")
    customer_name = serializers.CharField(write_only=True, required=False, allow_blank=True, max_length=200)
    amount = amount_field(minimum="0.01")
    amount_paid = amount_field(minimum="0", required=False)
    balance = serializers.DecimalField(max_digits=12, decimal_places=2, read_only=True)

    class Meta:
        model = Invoice
        fields = (
            "id",
            "number",
            "customer",
            "customer_phone",
            "customer_name",
            "amount",
            "currency",
            "issue_date",
            "due_date",
            "status",
            "amount_paid",
            "balance",
            "paid_at",
            "claimed_at",
            "receipt",
            "notes",
        )
        read_only_fields = ("customer", "status", "paid_at", "claimed_at", "receipt")
        extra_kwargs = {"number": {"min_length": 1}}

    def validate_customer_phone(self, value: str) -> str:

        try:
            return phone_normalize(value)
        except InboundError as error:
            raise serializers.ValidationError(error.message) from None

    def validate(self, attrs):
        tenant = self.context["tenant"]
        if Invoice.objects.filter(tenant=tenant, number=attrs["number"]).exists():
            raise serializers.ValidationError({"number": [f"Invoice {attrs['number']} is already loaded."]})
        if attrs["due_date"] < attrs["issue_date"]:
            raise serializers.ValidationError(
                {"due_date": [f"{attrs['due_date']} is before the issue date {attrs['issue_date']}."]}
            )
        if attrs.get("amount_paid", 0) > attrs["amount"]:
            raise serializers.ValidationError({"amount_paid": ["Cannot be more than the amount."]})
        return attrs

    def create(self, validated):
        tenant = self.context["tenant"]
        phone = validated.pop("customer_phone")
        name = validated.pop("customer_name", "")
        customer, _ = Customer.objects.get_or_create(tenant=tenant, phone=phone, defaults={"name": name})
        return Invoice.objects.create(tenant=tenant, customer=customer, **validated)


ONE_OR_MANY_INVOICES = {
    "oneOf": [
        {"$ref": "#/components/schemas/Invoice"},
        {"type": "array", "items": {"$ref": "#/components/schemas/Invoice"}, "minItems": 1},
    ]
}


def choice_param(request: Request, name: str, choices) -> str | None:
    """A query parameter that must be one of `choices` (400 saying which when it is not)."""
    value = request.query_params.get(name)
    if value is not None and value not in choices:
        raise serializers.ValidationError(
            {name: [f"'{value}' is not one of {', '.join(choices)}; leave it out for all."]}
        )
    return value


@extend_schema(
    tags=["collections"],
    methods=["GET"],
    parameters=[
        OpenApiParameter("status", str, enum=Invoice.Status.values, description="Only invoices in this status.")
    ],
    responses={200: inline_serializer("InvoiceList", {"invoices": InvoiceSerializer(many=True)})},
)
@extend_schema(
    tags=["collections"],
    methods=["POST"],
    # one invoice, or a list loaded whole or not at all
    request={"application/json": ONE_OR_MANY_INVOICES},
    responses={(201, "application/json"): ONE_OR_MANY_INVOICES},
)
@api_view(["GET", "POST"])
def invoices_view(request: Request) -> Response:
    """GET: the tenant's invoices (`?status=open`). POST: load one invoice or a list of them; a list
    is loaded whole or not at all, and each error names its row."""
    if request.method == "GET":
        invoices = Invoice.objects.filter(tenant=request.tenant).select_related("customer")
        wanted = choice_param(request, "status", Invoice.Status.values)
        if wanted:
            invoices = invoices.filter(status=wanted)
        return Response({"invoices": InvoiceSerializer(invoices[:500], many=True).data})
    many = isinstance(request.data, list)
    if many:
        counted = Counter(str(row.get("number") or "").strip() for row in request.data if isinstance(row, dict))
        repeated = sorted(n for n, times in counted.items() if n and times > 1)
        if repeated:
            raise serializers.ValidationError(
                {"number": [f"Each invoice once per load; repeated: {', '.join(repeated)}."]}
            )
    serializer = InvoiceSerializer(
        data=request.data, many=many, context={"tenant": request.tenant}, **({"allow_empty": False} if many else {})
    )
    serializer.is_valid(raise_exception=True)
    with transaction.atomic():
        serializer.save()
    return Response(serializer.data, status=status.HTTP_201_CREATED)


class PaymentSerializer(serializers.Serializer):
    amount = serializers.DecimalField(
        max_digits=12, decimal_places=2, required=False, min_value=Decimal("0.01"), help_text="Omit for paid in full."
    )


@extend_schema(tags=["collections"], request=PaymentSerializer, responses={200: InvoiceSerializer})
@api_view(["POST"])
def invoice_paid_view(request: Request, invoice_id: int) -> Response:
    """Staff confirm a payment: in full, or `amount` of it. Open promises are kept."""
    invoice = get_object_or_404(Invoice, pk=invoice_id, tenant=request.tenant)
    serializer = PaymentSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    try:
        invoice_mark_paid(invoice=invoice, amount=serializer.validated_data.get("amount"))
    except InvoiceStateError as error:
        raise serializers.ValidationError({"invoice": [str(error)]}) from None
    invoice.refresh_from_db()
    return Response(InvoiceSerializer(invoice).data)


class StaffTaskSerializer(serializers.ModelSerializer):
    class Meta:
        model = StaffTask
        fields = (
            "id",
            "kind",
            "title",
            "detail",
            "status",
            "customer",
            "conversation",
            "quote",
            "invoice",
            "created_at",
        )


@extend_schema(
    tags=["staff"],
    parameters=[
        OpenApiParameter("status", str, enum=StaffTask.Status.values, description="Only tasks in this status."),
        OpenApiParameter("kind", str, enum=StaffTask.Kind.values, description="Only tasks of this kind."),
    ],
    responses={200: inline_serializer("StaffTaskList", {"tasks": StaffTaskSerializer(many=True)})},
)
@api_view(["GET"])
def staff_tasks_view(request: Request) -> Response:
    """What agents left for people (`?status=open`, `?kind=reengage`), newest first, at most 500."""
    tasks = StaffTask.objects.filter(tenant=request.tenant)
    for key, choices in (("status", StaffTask.Status.values), ("kind", StaffTask.Kind.values)):
        wanted = choice_param(request, key, choices)
        if wanted:
            tasks = tasks.filter(**{key: wanted})
    return Response({"tasks": StaffTaskSerializer(tasks[:500], many=True).data})
