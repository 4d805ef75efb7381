"""Orders that come from a marketplace (MercadoLibre, Shopify), already priced and usually paid
there: recorded as an accepted quote and its order, once per marketplace order, with the stock
reserved and staff asked to schedule the delivery, as an order placed here would be."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext

from agents.events import event_emit
from agents.orders.service import (
    delivery_date_propose,
    order_cancel,
    order_data,
    order_lines_copy,
    order_paid_follow,
    order_stock_reserve,
)
from agents.quotes.pricing import IVA_RATE
from bmc.conversations.models import Customer
from bmc.core.models import Tenant
from bmc.datasync.models import Source
from bmc.orders.models import Order
from bmc.quotes.models import CatalogVersion, Quote, QuoteLine

CENT = Decimal("0.01")


@dataclass(frozen=True)
class MarketLine:
    sku: str
    description: str
    quantity: Decimal
    unit_price: Decimal  # as the buyer paid it, IVA included
    unit: str = "unidad"
    amount: Decimal | None = None  # what the line came to, when the unit price is rounded from it


class MarketOrderRefused(ValueError):
    """A marketplace order that cannot be recorded as it is (no lines, a product not sold here)."""


def market_order_record(
    *,
    tenant: Tenant,
    source: str,
    external_id: str,
    lines: list[MarketLine],
    currency: str,
    paid: bool,
    buyer: str = "",
    customer: Customer | None = None,
    zone: str = "",
) -> tuple[Order, bool]:
    """The order of a marketplace order, made once: (order, created). A paid one is paid here too,
    its stock reserved (short: staff are told) and its delivery left to staff to schedule."""
    existing = Order.objects.filter(tenant=tenant, source=source, external_id=external_id).first()
    if existing is not None:
        _follow(existing)  # what a run killed after the order's commit left undone (each step once)
        return existing, False
    if not lines:
        # (stored as a sync run's refused row, for staff)
        raise MarketOrderRefused(
            gettext("%(source)s order %(id)s has no lines.")
            % {"source": dict(Source.choices).get(source, source), "id": external_id}
        )
    version = CatalogVersion.objects.filter(tenant=tenant, is_current=True).first()
    if version is None:
        raise MarketOrderRefused(gettext("No catalog is loaded: a marketplace order cannot be recorded."))
    amounts = [
        (line.amount if line.amount is not None else line.quantity * line.unit_price).quantize(CENT, ROUND_HALF_UP)
        for line in lines
    ]
    total = sum(amounts, Decimal(0))
    iva = (total - total / (1 + IVA_RATE)).quantize(CENT, ROUND_HALF_UP)  # marketplace prices include IVA
    now = timezone.now()
    try:
        with transaction.atomic():
            quote = Quote.objects.create(
                tenant=tenant,
                customer=customer,
                catalog_version=version,
                spec={"source": source, "external_id": external_id, "zone": zone},
                status=Quote.Status.ACCEPTED,
                price_list=source[:10],
                currency=currency,
                subtotal=total - iva,
                iva=iva,
                total=total,
                valid_until=timezone.localdate(now),
                sent_at=now,
                decided_at=now,
                ordered_at=now,
            )
            QuoteLine.objects.bulk_create(
                QuoteLine(
                    quote=quote,
                    position=index,
                    sku=line.sku,
                    description=line.description[:200],
                    unit=line.unit,
                    quantity=line.quantity,
                    unit_price=line.unit_price,
                    amount=amount,
                )
                for index, (line, amount) in enumerate(zip(lines, amounts, strict=True), start=1)
            )
            order = Order.objects.create(
                tenant=tenant,
                quote=quote,
                customer=customer,
                catalog_version=version,
                source=source,
                external_id=external_id,
                buyer=buyer[:200],
                status=Order.Status.PAID if paid else Order.Status.PENDING_PAYMENT,
                paid_at=now if paid else None,
                currency=currency,
                subtotal=quote.subtotal,
                iva=iva,
                total=total,
                zone=zone,
                delivery_date=delivery_date_propose(zone=zone, ordered=timezone.localdate(now)),
            )
            order_lines_copy(order=order, quote=quote)
            event_emit(tenant=tenant, type="order.created", subject=f"order:{order.pk}", data=order_data(order))
            if paid:
                event_emit(tenant=tenant, type="order.paid", subject=f"order:{order.pk}", data=order_data(order))
    except IntegrityError:  # recorded a moment ago by a run racing this one
        return Order.objects.get(tenant=tenant, source=source, external_id=external_id), False
    _follow(order)
    return order, True


def _follow(order: Order) -> None:
    """Stock reserved and the delivery left to staff, once each: a reservation is made once per
    order, a staff task once per key."""
    if order.status == Order.Status.CANCELLED:
        return
    if order.stock == Order.Stock.PENDING:
        order_stock_reserve(order=order)
    if order.status == Order.Status.PAID:
        order_paid_follow(order=order)


def market_order_cancelled(*, tenant: Tenant, source: str, external_id: str, reason: str) -> bool:
    """A marketplace order cancelled there: cancelled here too (its stock released). False when
    there is no such order here, or it was cancelled already."""
    order = Order.objects.filter(tenant=tenant, source=source, external_id=external_id).first()
    if order is None:
        return False
    return order_cancel(order=order, reason=reason)


def market_order_summary(order: Order) -> dict[str, Any]:
    return {"order_id": order.pk, "number": order.number, "status": order.status, "total": str(order.total)}
