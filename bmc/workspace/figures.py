"""The homes' figures, each one aggregate query in the database (never rows loaded into Python):
what waits for a person, and the series the charts draw."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Avg, Count, DurationField, Exists, ExpressionWrapper, F, Max, OuterRef, Q, Sum
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Coalesce, TruncDate, TruncWeek
from django.utils import timezone

from bmc.conversations.models import Conversation, Message, Zone
from bmc.documents.models import Document
from bmc.orders.models import Order
from bmc.quotes.models import Quote
from bmc.sales.models import FollowUp, Invoice, StaffTask

LOCAL = ZoneInfo(settings.TIME_ZONE)
ZERO = Decimal("0")


def waiting_counts(*, tenant_id: int, user_id: int, today: date) -> dict[str, Any]:
    """What waits for a person now, with the user's own share where work is assigned."""
    now = timezone.now()
    handoff = Conversation.objects.filter(tenant_id=tenant_id, state=Conversation.State.HANDOFF).aggregate(
        with_staff=Count("id"), mine=Count("id", filter=Q(assigned_to_id=user_id))
    )
    tasks = StaffTask.objects.filter(tenant_id=tenant_id, status=StaffTask.Status.OPEN).aggregate(
        open=Count("id"),
        mine=Count("id", filter=Q(assigned_to_id=user_id)),
        under_a_day=Count("id", filter=Q(created_at__gte=now - timedelta(days=1))),
        one_to_three_days=Count(
            "id", filter=Q(created_at__lt=now - timedelta(days=1), created_at__gte=now - timedelta(days=3))
        ),
        over_three_days=Count("id", filter=Q(created_at__lt=now - timedelta(days=3))),
    )
    overdue = Invoice.objects.filter(
        tenant_id=tenant_id, status__in=[Invoice.Status.OPEN, Invoice.Status.PAYMENT_CLAIMED], due_date__lt=today
    ).aggregate(count=Count("id"), balance=Coalesce(Sum(F("amount") - F("amount_paid")), ZERO))
    return {
        "conversations_with_staff": handoff["with_staff"],
        "conversations_mine": handoff["mine"],
        "quotes_to_approve": Quote.objects.filter(tenant_id=tenant_id, status=Quote.Status.PENDING_APPROVAL).count(),
        "documents_to_review": Document.objects.filter(tenant_id=tenant_id, review=Document.Review.PENDING).count(),
        "invoices_overdue": overdue["count"],
        "invoices_overdue_balance": overdue["balance"],
        "tasks": tasks,
    }


def quotes_per_day(*, tenant_id: int, since: datetime) -> list[dict[str, Any]]:
    rows = (
        Quote.objects.filter(tenant_id=tenant_id, created_at__gte=since)
        .annotate(day=TruncDate("created_at", tzinfo=LOCAL))
        .values("day")
        .annotate(count=Count("id"), amount=Sum("total"))
        .order_by("day")
    )
    return [{"day": row["day"], "count": row["count"], "amount": row["amount"]} for row in rows]


def funnel(*, tenant_id: int, since: datetime) -> list[tuple[str, int]]:
    """Customers who wrote since `since`, and how far their quotes of the period went."""
    wrote = (
        Message.objects.filter(tenant_id=tenant_id, direction=Message.Direction.INBOUND, created_at__gte=since)
        .values("conversation__customer_id")
        .distinct()
        .count()
    )
    quotes = Quote.objects.filter(tenant_id=tenant_id, created_at__gte=since, customer__isnull=False).aggregate(
        quoted=Count("customer_id", distinct=True),
        accepted=Count("customer_id", distinct=True, filter=Q(status=Quote.Status.ACCEPTED)),
        ordered=Count("customer_id", distinct=True, filter=Q(ordered_at__isnull=False)),
        paid=Count(
            "customer_id",
            distinct=True,
            filter=Q(order__status__in=[Order.Status.PAID, Order.Status.SCHEDULED, Order.Status.DELIVERED]),
        ),
    )
    return [
        ("message", wrote),
        ("quote", quotes["quoted"]),
        ("accepted", quotes["accepted"]),
        ("ordered", quotes["ordered"]),
        ("paid", quotes["paid"]),
    ]


def amounts_by(*, tenant_id: int, since: datetime, key: str) -> list[dict[str, Any]]:
    """Amounts quoted and won (accepted) since `since`, by a key of the quotes' spec (family, zone)."""
    rows = (
        Quote.objects.filter(tenant_id=tenant_id, created_at__gte=since)
        .annotate(group=KeyTextTransform(key, "spec"))
        .values("group")
        .annotate(
            quoted=Sum("total"),
            won=Coalesce(Sum("total", filter=Q(status=Quote.Status.ACCEPTED)), ZERO),
            count=Count("id"),
        )
        .order_by("-quoted")
    )
    return [
        {"group": _group_label(key, row["group"]), **{k: row[k] for k in ("quoted", "won", "count")}} for row in rows
    ]


def _group_label(key: str, value: str | None) -> str:
    """ISODEC_EPS as 'ISODEC EPS', MONTEVIDEO as 'Montevideo'; '' for none said."""
    if not value:
        return ""
    if key == "zone" and value in Zone.values:
        return str(Zone(value).label)
    return value.replace("_", " ")


def followups_by_week(*, tenant_id: int, since: datetime) -> list[dict[str, Any]]:
    """Follow-ups sent per week and step, and how many were answered within 24 hours."""
    answered = Message.objects.filter(
        conversation__customer_id=OuterRef("customer_id"),
        direction=Message.Direction.INBOUND,
        created_at__gt=OuterRef("sent_at"),
        created_at__lte=OuterRef("sent_at") + timedelta(hours=24),
    )
    rows = (
        FollowUp.objects.filter(tenant_id=tenant_id, status=FollowUp.Status.SENT, sent_at__gte=since)
        .annotate(week=TruncWeek("sent_at", tzinfo=LOCAL), answered=Exists(answered))
        .values("week", "step")
        .annotate(sent=Count("id"), answered_24h=Count("id", filter=Q(answered=True)))
        .order_by("week", "step")
    )
    return [
        {"week": row["week"].date(), "step": row["step"], "sent": row["sent"], "answered": row["answered_24h"]}
        for row in rows
    ]


def reply_time_per_day(*, tenant_id: int, since: datetime) -> list[dict[str, Any]]:
    """The bot's reply time: from a customer's message arriving to the turn that answered it."""
    waited = ExpressionWrapper(F("processed_at") - F("created_at"), output_field=DurationField())
    rows = (
        Message.objects.filter(
            tenant_id=tenant_id,
            direction=Message.Direction.INBOUND,
            created_at__gte=since,
            processed_at__isnull=False,
        )
        .annotate(day=TruncDate("created_at", tzinfo=LOCAL), waited=waited)
        .values("day")
        .annotate(average=Avg("waited"), longest=Max("waited"), count=Count("id"))
        .order_by("day")
    )
    return [
        {
            "day": row["day"],
            "average_s": row["average"].total_seconds() if row["average"] else 0.0,
            "longest_s": row["longest"].total_seconds() if row["longest"] else 0.0,
            "count": row["count"],
        }
        for row in rows
    ]
