"""Stock moves. Each is one conditional UPDATE of a stock level (so two orders racing for the last
panels cannot both get them: the second update finds too little and changes nothing) and a
StockMove row whose key makes it happen once however often its task runs. A level that falls
under its threshold emits `stock.low`, in the same transaction."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from agents.events import event_emit
from bmc.core.models import Tenant
from bmc.inventory.models import StockLevel, StockMove, Supplier, SupplierProduct, Warehouse


class StockShort(Exception):
    """Not enough available for every line: nothing was reserved. `short` says what is missing."""

    def __init__(self, short: list[dict[str, str]]):
        super().__init__(", ".join(f"{s['sku']}: {s['wanted']} wanted, {s['available']} available" for s in short))
        self.short = short


@dataclass(frozen=True)
class Need:
    sku: str
    quantity: Decimal


def tracked_skus(*, tenant_id: int, skus: Iterable[str]) -> set[str]:
    """The SKUs kept in stock (a level in some warehouse); the rest are never reserved."""
    return set(StockLevel.objects.filter(tenant_id=tenant_id, sku__in=set(skus)).values_list("sku", flat=True))


def _once(*, tenant_id: int, level: StockLevel, kind: str, quantity: Decimal, reference: str, key: str) -> bool:
    """The move's row; False when a move of this key was made already (nothing to do again)."""
    try:
        with transaction.atomic():
            StockMove.objects.create(
                tenant_id=tenant_id, level=level, kind=kind, quantity=quantity, reference=reference, dedupe_key=key
            )
    except IntegrityError:
        return False
    return True


def stock_reserve(*, tenant: Tenant, reference: str, needs: list[Need], zone: str = "") -> list[StockMove]:
    """Reserve every need from one warehouse each (the zone's first, then the one with the most
    available), all or nothing: StockShort when one cannot be covered. Made once per reference."""
    done = list(StockMove.objects.filter(tenant=tenant, reference=reference, kind=StockMove.Kind.RESERVATION))
    if done:
        return done
    tracked = tracked_skus(tenant_id=tenant.pk, skus=[n.sku for n in needs])
    short, moves = [], []
    with transaction.atomic():
        for need in sorted((n for n in needs if n.sku in tracked), key=lambda n: n.sku):  # one lock order
            level = _level_reserve(tenant_id=tenant.pk, sku=need.sku, quantity=need.quantity, zone=zone)
            if level is None:
                available = sum(lv.available for lv in StockLevel.objects.filter(tenant=tenant, sku=need.sku))
                short.append({"sku": need.sku, "wanted": str(need.quantity), "available": str(available)})
                continue
            key = f"reserve:{reference}:{need.sku}"
            if not _once(
                tenant_id=tenant.pk,
                level=level,
                kind=StockMove.Kind.RESERVATION,
                quantity=need.quantity,
                reference=reference,
                key=key,
            ):  # a run of this same reservation made it meanwhile: this one's taken back
                StockLevel.objects.filter(pk=level.pk).update(reserved=F("reserved") - need.quantity)
                continue
            moves.append(level)
        if short:
            transaction.set_rollback(True)
        else:
            for level in moves:
                _low_check(tenant=tenant, level_id=level.pk)
    if short:
        raise StockShort(short)
    return list(StockMove.objects.filter(tenant=tenant, reference=reference, kind=StockMove.Kind.RESERVATION))


def _level_reserve(*, tenant_id: int, sku: str, quantity: Decimal, zone: str) -> StockLevel | None:
    levels = StockLevel.objects.filter(tenant_id=tenant_id, sku=sku, warehouse__active=True).select_related("warehouse")
    ordered = sorted(levels, key=lambda lv: (lv.warehouse.zone != zone, -(lv.on_hand - lv.reserved), lv.pk))
    for level in ordered:
        # the check and the change in one statement: a racing order sees the reservation made
        if StockLevel.objects.filter(pk=level.pk, on_hand__gte=F("reserved") + quantity).update(
            reserved=F("reserved") + quantity
        ):
            return level
    return None


def _reservation_close(*, tenant: Tenant, reference: str, kind: str, key: str, not_after: str, change) -> int:
    """Each of a reference's reservations closed one way (released, or shipped), once, and only if
    it was not closed the other way. Returns how many were closed now."""
    closed = 0
    with transaction.atomic():
        reserved = StockMove.objects.filter(tenant=tenant, reference=reference, kind=StockMove.Kind.RESERVATION)
        for move in reserved.select_related("level"):
            sku = move.level.sku
            if StockMove.objects.filter(tenant=tenant, dedupe_key=f"{not_after}:{reference}:{sku}").exists():
                continue
            if not _once(
                tenant_id=tenant.pk,
                level=move.level,
                kind=kind,
                quantity=move.quantity,
                reference=reference,
                key=f"{key}:{reference}:{sku}",
            ):
                continue
            StockLevel.objects.filter(pk=move.level_id).update(**change(move.quantity))
            _low_check(tenant=tenant, level_id=move.level_id)
            closed += 1
    return closed


def stock_release(*, tenant: Tenant, reference: str) -> int:
    """Give back what a reference reserved and did not ship; once. Returns the moves released."""
    return _reservation_close(
        tenant=tenant,
        reference=reference,
        kind=StockMove.Kind.RELEASE,
        key="release",
        not_after="ship",
        change=lambda quantity: {"reserved": F("reserved") - quantity},
    )


def stock_ship(*, tenant: Tenant, reference: str) -> int:
    """What a reference reserved leaves the warehouse (on hand and reserved both go down); once."""
    return _reservation_close(
        tenant=tenant,
        reference=reference,
        kind=StockMove.Kind.SHIPMENT,
        key="ship",
        not_after="release",
        change=lambda quantity: {"on_hand": F("on_hand") - quantity, "reserved": F("reserved") - quantity},
    )


def stock_receive(
    *, tenant: Tenant, warehouse: Warehouse, sku: str, quantity: Decimal, reference: str, key: str
) -> StockLevel:
    """Goods received into a warehouse (a purchase order, a count); once per key."""
    if quantity <= 0:
        raise ValueError(f"a receipt of {quantity}: it must be more than 0")
    with transaction.atomic():
        level, _ = StockLevel.objects.get_or_create(tenant=tenant, warehouse=warehouse, sku=sku)
        if _once(
            tenant_id=tenant.pk,
            level=level,
            kind=StockMove.Kind.RECEIPT,
            quantity=quantity,
            reference=reference,
            key=key,
        ):
            StockLevel.objects.filter(pk=level.pk).update(on_hand=F("on_hand") + quantity)
            _low_check(tenant=tenant, level_id=level.pk)
    level.refresh_from_db()
    return level


def stock_demo_load(*, tenant: Tenant, csv_text: str) -> int:
    """The demo stock (warehouse,sku,on_hand,threshold rows) for a company with no warehouse yet,
    each product bought from one demo supplier (by e-mail, 7 days); 0 when it has a warehouse
    (its stock is its own). Returns the levels created."""
    if Warehouse.objects.filter(tenant=tenant).exists():
        return 0
    rows = list(csv.DictReader(io.StringIO(csv_text)))
    with transaction.atomic():
        warehouses = {
            code: Warehouse.objects.create(tenant=tenant, code=code, name=f"Planta {tenant.name}", zone="MONTEVIDEO")
            for code in sorted({row["warehouse"] for row in rows})
        }
        StockLevel.objects.bulk_create(
            StockLevel(
                tenant=tenant,
                warehouse=warehouses[row["warehouse"]],
                sku=row["sku"],
                on_hand=Decimal(row["on_hand"]),
                threshold=Decimal(row["threshold"]),
            )
            for row in rows
        )
        supplier = Supplier.objects.create(
            tenant=tenant, name="Proveedor de demostración", email="compras.demo@example.com", lead_time_days=7
        )
        SupplierProduct.objects.bulk_create(
            SupplierProduct(tenant=tenant, supplier=supplier, sku=sku, pack=Decimal(10))
            for sku in sorted({row["sku"] for row in rows})
        )
    return len(rows)


def _low_check(*, tenant: Tenant, level_id: int) -> None:
    """stock.low once per crossing: when what is available falls under the threshold, not again
    while it stays under, and again after it was lifted over it and falls once more."""
    level = StockLevel.objects.select_related("warehouse").get(pk=level_id)
    if level.threshold <= 0 or level.available >= level.threshold:
        if level.low_since is not None:
            StockLevel.objects.filter(pk=level.pk).update(low_since=None)
        return
    if not StockLevel.objects.filter(pk=level.pk, low_since__isnull=True).update(low_since=timezone.now()):
        return  # under it already, and said so
    event_emit(
        tenant=tenant,
        type="stock.low",
        subject=f"stock:{level.warehouse.code}:{level.sku}",
        data={
            "sku": level.sku,
            "warehouse": level.warehouse.code,
            "available": str(level.available),
            "on_hand": str(level.on_hand),
            "threshold": str(level.threshold),
        },
    )
