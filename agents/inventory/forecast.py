"""Demand forecast for a product, from the orders it was in: daily quantities over the last
DEMAND_DAYS, smoothed by statsmodels' simple exponential smoothing (its level estimated from the
history) and projected over the supplier's lead time. Demand for panels is lumpy (a roof now and
then), which the level follows without chasing each spike; with no history the forecast is 0 and
the purchase covers the threshold alone."""

from __future__ import annotations

import math
import warnings
from datetime import date, timedelta
from decimal import ROUND_CEILING, Decimal
from typing import Any

import numpy as np
from django.db.models import Sum
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop

from agents.staff import admin_place
from bmc.core.models import NotInTenant
from bmc.inventory.models import PurchaseOrder, PurchaseOrderLine, StockLevel, SupplierProduct
from bmc.orders.models import Order, OrderLine

DEMAND_DAYS = 90
# Fewer days with demand than this: too little to fit a level on; their mean is used.
MIN_DAYS_WITH_DEMAND = 3


def demand_daily(*, tenant_id: int, sku: str, today: date, days: int = DEMAND_DAYS) -> list[float]:
    """The quantity ordered of `sku` on each of the last `days` days (cancelled orders left out)."""
    start = today - timedelta(days=days - 1)
    rows = (
        OrderLine.objects.filter(order__tenant_id=tenant_id, sku=sku, order__created_at__date__gte=start)
        .exclude(order__status=Order.Status.CANCELLED)
        .annotate(day=TruncDate("order__created_at"))
        .values("day")
        .annotate(quantity=Sum("quantity"))
    )
    by_day = {row["day"]: float(row["quantity"]) for row in rows}
    return [by_day.get(start + timedelta(days=n), 0.0) for n in range(days)]


# How a forecast was reached: its "method" (data, in English), worded for staff in a suggestion's detail.
METHOD_NONE = gettext_noop("none (no demand in the history)")
METHOD_MEAN = gettext_noop("mean (too little history to smooth)")
METHOD_SMOOTHING = gettext_noop("simple exponential smoothing")


def demand_forecast(series: list[float], *, horizon: int) -> dict[str, Any]:
    """Expected demand over the next `horizon` days, and how it was reached."""
    values = np.asarray(series, dtype=float)
    if not values.any():
        return {"method": METHOD_NONE, "per_day": 0.0, "total": 0.0}
    if np.count_nonzero(values) < MIN_DAYS_WITH_DEMAND:
        per_day = float(values.mean())
        return {"method": METHOD_MEAN, "per_day": per_day, "total": per_day * horizon}
    from statsmodels.tsa.holtwinters import SimpleExpSmoothing  # a second's import: only where it is used

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence notes on short, lumpy series
        fitted = SimpleExpSmoothing(values, initialization_method="estimated").fit()
    projected = np.clip(fitted.forecast(horizon), 0, None)
    return {
        "method": METHOD_SMOOTHING,
        "alpha": round(float(fitted.params["smoothing_level"]), 4),
        "per_day": round(float(projected.mean()), 4),
        "total": float(projected.sum()),
    }


def purchase_suggest(*, tenant_id: int, sku: str, warehouse: str, today: date | None = None) -> dict[str, Any]:
    """How much of `sku` to buy for `warehouse`: what the lead time's forecast demand and the
    threshold (the safety stock) need beyond what is available and already on order, in the
    supplier's packs. No supplier: quantity 0, and the title says so for staff."""
    today = today or timezone.localdate()
    level = StockLevel.objects.filter(tenant_id=tenant_id, sku=sku, warehouse__code=warehouse).first()
    if level is None:
        raise NotInTenant(f"stock level of {sku} at {warehouse} not found in this tenant (id {tenant_id})")
    link = SupplierProduct.objects.filter(tenant_id=tenant_id, sku=sku).select_related("supplier").first()
    if link is None:
        return {
            "supplier_id": None,
            "quantity": 0,
            "title": gettext("%(sku)s below the minimum at %(warehouse)s (%(available)s available): no supplier loaded")
            % {"sku": sku, "warehouse": warehouse, "available": level.available},
            "detail": gettext("Load its supplier in %(place)s so the agent can draft the purchase.")
            % {"place": admin_place(SupplierProduct)},
        }
    lead = link.supplier.lead_time_days
    forecast = demand_forecast(demand_daily(tenant_id=tenant_id, sku=sku, today=today), horizon=lead)
    on_order = PurchaseOrderLine.objects.filter(
        purchase_order__tenant_id=tenant_id,
        sku=sku,
        purchase_order__status__in=(
            PurchaseOrder.Status.DRAFT,
            PurchaseOrder.Status.APPROVED,
            PurchaseOrder.Status.SENT,
        ),
    ).aggregate(total=Sum("quantity"))["total"] or Decimal(0)
    need = Decimal(str(math.ceil(forecast["total"] * 100) / 100)) + level.threshold - level.available - on_order
    packs = (need / link.pack).to_integral_value(rounding=ROUND_CEILING) if need > 0 else Decimal(0)
    quantity = packs * link.pack
    return {
        "supplier_id": link.supplier_id,
        "supplier": link.supplier.name,
        "lead_time_days": lead,
        "available": str(level.available),
        "threshold": str(level.threshold),
        "on_order": str(on_order),
        "forecast": forecast,
        "quantity": float(quantity),
        "title": gettext("Buy %(quantity)s %(sku)s from %(supplier)s")
        % {"quantity": quantity, "sku": sku, "supplier": link.supplier.name},
        "detail": gettext("Forecast demand in %(days)s days: %(total)s (%(method)s).")
        % {"days": lead, "total": f"{forecast['total']:.2f}", "method": gettext(forecast["method"])},
    }
