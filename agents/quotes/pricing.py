"""Deterministic pricing, as docs/domain/QUOTING.md defines it, and the quote records.

The same spec and the same catalog version always give the same lines and totals, to the cent.
All arithmetic is Decimal; nothing a customer writes or a model returns reaches a price. The
pricing functions are pure over a catalog snapshot: `catalog_snapshot()` reads the current
version once.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from bmc.conversations.models import Conversation, Customer, Message
from bmc.core.models import Tenant
from bmc.quotes.models import CatalogVersion, Product, Quote, QuoteLine

CENT = Decimal("0.01")
PIECE = Decimal("3.0")
IVA_RATE = Decimal("0.22")
APPROVAL_THRESHOLD = Decimal("10000.00")
VALIDITY_DAYS = 10

SCENARIOS = ("roof", "wall", "cold_room")
ZONES = ("MONTEVIDEO", "CANELONES", "MALDONADO", "INTERIOR")
PRICE_LISTS = ("venta", "web")
MAX_PANEL_LENGTH = Decimal("14.00")
MAX_WIDTH_OR_RUN = Decimal("200")
MAX_AREA = Decimal("10000")
MAX_PANELS = 500

# Line order of the contract: panel, fixing kits (wall before roof), profiles, silicone, freight.
LINE_ORDER = (
    "KIT_FIJACION_PARED",
    "KIT_FIJACION_TECHO",
    "GOTERO_FRONTAL",
    "GOTERO_LATERAL",
    "CUMBRERA",
    "CANALON",
    "PERFIL_U",
    "ESQUINERO",
    "SILICONA",
)
SPEC_KEYS = (
    "scenario",
    "family",
    "thickness_mm",
    "length_m",
    "width_m",
    "height_m",
    "run_m",
    "panel_count",
    "area_m2",
    "slopes",
    "corners",
    "color",
    "drip_edges",
    "gutters",
    "fixings",
    "sealant",
    "zone",
    "price_list",
)


class QuoteSpecError(ValueError):
    """A spec that cannot be priced: names the field and what is allowed."""

    def __init__(self, field: str, message: str, *, code: str = ""):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.code = code  # what kind of refusal, where a caller words it its own way ("too_small")


@dataclass(frozen=True)
class CatalogItem:
    sku: str
    name: str
    kind: str
    family: str
    use: str
    thickness_mm: int | None
    useful_width_m: Decimal | None
    max_span_m: Decimal | None
    unit: str
    prices: Mapping[str, Decimal]  # price list -> unit price
    colors: tuple[str, ...]


@dataclass(frozen=True)
class CatalogSnapshot:
    version: int
    items: Mapping[str, CatalogItem]
    version_id: int | None = None  # the CatalogVersion row

    def thicknesses(self, family: str) -> list[int]:
        return sorted(i.thickness_mm for i in self.items.values() if i.family == family and i.thickness_mm)

    def families(self) -> list[str]:
        return sorted({i.family for i in self.items.values() if i.kind == "panel" and i.family})


@dataclass(frozen=True)
class QuoteSpec:
    scenario: str
    family: str
    thickness_mm: int
    length_m: Decimal | None = None
    width_m: Decimal | None = None
    height_m: Decimal | None = None
    run_m: Decimal | None = None
    panel_count: int | None = None
    area_m2: Decimal | None = None
    slopes: int = 1
    corners: int = 0
    color: str = ""
    drip_edges: bool = True
    gutters: bool = False
    fixings: bool = True
    sealant: bool = True
    zone: str | None = None
    price_list: str = "venta"

    @property
    def sku(self) -> str:
        return f"{self.family}_{self.thickness_mm}"

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe, decimals as strings, absent measures left out."""
        out: dict[str, Any] = {}
        for key in SPEC_KEYS:
            value = getattr(self, key)
            if value is None:
                continue
            out[key] = str(value) if isinstance(value, Decimal) else value
        return out


@dataclass(frozen=True)
class QuoteLineResult:
    sku: str
    description: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    unit: str = ""


@dataclass(frozen=True)
class QuoteResult:
    spec: QuoteSpec
    lines: tuple[QuoteLineResult, ...]
    subtotal: Decimal
    iva: Decimal
    total: Decimal
    estimate: bool
    requires_approval: bool
    catalog_version: int
    missing_for_full_quote: tuple[str, ...] = field(default=())
    catalog_version_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "lines": [
                {
                    "sku": line.sku,
                    "description": line.description,
                    "quantity": str(line.quantity),
                    "unit_price": str(line.unit_price),
                    "amount": str(line.amount),
                }
                for line in self.lines
            ],
            "subtotal": str(self.subtotal),
            "iva": str(self.iva),
            "total": str(self.total),
            "estimate": self.estimate,
            "requires_approval": self.requires_approval,
            "catalog_version": self.catalog_version,
        }


# --- parsing --------------------------------------------------------------------------------


def _decimal(data: Mapping[str, Any], key: str, *, positive: bool = True) -> Decimal | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool):
        raise QuoteSpecError(key, f"must be a number, got {value!r}.")
    try:
        # str() first: 4.48 as a float is not 4.48, its shortest repr is.
        number = Decimal(str(value).strip().replace(",", "."))
    except InvalidOperation:
        raise QuoteSpecError(key, f"must be a number, got {value!r}.") from None
    if not number.is_finite() or (positive and number <= 0):
        raise QuoteSpecError(key, f"must be a positive number, got {value!r}.")
    # 1e999999999 is a valid Decimal whose int() would take forever: no measure is that large
    if number.adjusted() > 6 or number.adjusted() < -6:
        raise QuoteSpecError(key, f"{value!r} is out of range; give a measure in meters, e.g. 4.48.")
    return number


def _integer(data: Mapping[str, Any], key: str, *, minimum: int) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    number = _decimal(data, key, positive=False)  # the minimum below says what is allowed
    if number is None or number != number.to_integral_value() or number < minimum:
        raise QuoteSpecError(key, f"must be a whole number from {minimum}, got {value!r}.")
    return int(number)


def _boolean(data: Mapping[str, Any], key: str, default: bool) -> bool:
    value = data.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise QuoteSpecError(key, f"must be true or false, got {value!r}.")
    return value


def _choice(data: Mapping[str, Any], key: str, allowed: tuple[str, ...], default: str | None) -> str | None:
    value = data.get(key)
    if value is None or value == "":
        return default
    normalized = str(value).strip()
    for option in allowed:
        if normalized.lower() == option.lower():
            return option
    raise QuoteSpecError(key, f"'{value}' is not allowed; use one of {', '.join(allowed)}.")


def quote_spec_parse(*, data: Mapping[str, Any], catalog: CatalogSnapshot) -> QuoteSpec:
    """Validate a spec against the contract and the catalog; raises QuoteSpecError."""
    if not isinstance(data, Mapping):
        raise QuoteSpecError("spec", "must be an object.")
    unknown = sorted(set(data) - set(SPEC_KEYS))
    if unknown:
        raise QuoteSpecError(unknown[0], f"is not a spec field; allowed: {', '.join(SPEC_KEYS)}.")

    families = catalog.families()
    family = _choice(data, "family", tuple(families), None)
    if family is None:
        raise QuoteSpecError("family", f"is required; one of {', '.join(families)}.")
    thickness = _integer(data, "thickness_mm", minimum=1)
    available = catalog.thicknesses(family)
    if thickness is None or thickness not in available:
        shown = "is required" if thickness is None else f"{thickness} mm is not made in {family}"
        raise QuoteSpecError("thickness_mm", f"{shown}; thicknesses: {', '.join(map(str, available))} mm.")
    panel = catalog.items[f"{family}_{thickness}"]

    scenario = _choice(data, "scenario", SCENARIOS, panel.use if panel.use in SCENARIOS else None)
    if scenario is None:
        raise QuoteSpecError("scenario", f"is required; one of {', '.join(SCENARIOS)}.")

    color = _choice(data, "color", panel.colors, panel.colors[0] if panel.colors else "")
    slopes = _integer(data, "slopes", minimum=1)
    if slopes not in (None, 1, 2):
        raise QuoteSpecError("slopes", f"must be 1 or 2, got {data.get('slopes')!r}.")
    spec = QuoteSpec(
        scenario=scenario,
        family=family,
        thickness_mm=thickness,
        length_m=_decimal(data, "length_m"),
        width_m=_decimal(data, "width_m"),
        height_m=_decimal(data, "height_m"),
        run_m=_decimal(data, "run_m"),
        panel_count=_integer(data, "panel_count", minimum=1),
        area_m2=_decimal(data, "area_m2"),
        slopes=slopes or 1,
        corners=_integer(data, "corners", minimum=0) or 0,
        color=color or "",
        drip_edges=_boolean(data, "drip_edges", True),
        gutters=_boolean(data, "gutters", False),
        fixings=_boolean(data, "fixings", True),
        sealant=_boolean(data, "sealant", True),
        zone=_choice(data, "zone", ZONES, None),
        price_list=_choice(data, "price_list", PRICE_LISTS, "venta") or "venta",
    )
    _check_limits(spec)
    if not spec_is_estimate(spec):
        missing = spec_missing_measures(spec)
        if missing:
            raise QuoteSpecError(
                missing[0],
                f"is required for a {scenario.replace('_', ' ')} quote: "
                f"give {' and '.join(missing)}, or area_m2 for an estimate.",
            )
    return spec


def _check_limits(spec: QuoteSpec) -> None:
    panel_lengths = {"roof": ("length_m",), "wall": ("length_m",), "cold_room": ("height_m", "width_m")}
    for key in panel_lengths[spec.scenario]:
        value = getattr(spec, key)
        if value is not None and value > MAX_PANEL_LENGTH:
            raise QuoteSpecError(key, f"{value} m needs panels longer than {MAX_PANEL_LENGTH} m, the longest made.")
    for key in ("width_m", "run_m"):
        value = getattr(spec, key)
        if value is not None and value > MAX_WIDTH_OR_RUN:
            raise QuoteSpecError(key, f"{value} m is over the {MAX_WIDTH_OR_RUN} m a quote can cover.")
    if spec.area_m2 is not None and spec.area_m2 > MAX_AREA:
        raise QuoteSpecError("area_m2", f"{spec.area_m2} m2 is over the {MAX_AREA} m2 a quote can cover.")
    if spec.panel_count is not None and spec.panel_count > MAX_PANELS:
        raise QuoteSpecError("panel_count", f"{spec.panel_count} panels is over the {MAX_PANELS} a quote can cover.")


def spec_is_estimate(spec: QuoteSpec) -> bool:
    """Only an area is known: no length, width, run or count."""
    measures = (spec.length_m, spec.width_m, spec.run_m, spec.panel_count, spec.height_m)
    return spec.area_m2 is not None and all(m is None for m in measures)


def spec_missing_measures(spec: QuoteSpec) -> list[str]:
    """What a full quote of this scenario still needs, in the order to ask for it."""
    missing: list[str] = []
    if spec.scenario == "roof":
        if spec.length_m is None:
            missing.append("length_m")
        if spec.width_m is None and spec.panel_count is None:
            missing.append("width_m")
    elif spec.scenario == "wall":
        missing += [k for k in ("length_m", "run_m") if getattr(spec, k) is None]
    else:
        missing += [k for k in ("length_m", "width_m", "height_m") if getattr(spec, k) is None]
    return missing


# --- pricing --------------------------------------------------------------------------------


def _ceil(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_CEILING))


def _round2(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def quote_price(*, spec: QuoteSpec, catalog: CatalogSnapshot) -> QuoteResult:
    panel = catalog.items[spec.sku]
    au, span = panel.useful_width_m, panel.max_span_m
    counts: dict[str, int] = {}
    estimate = spec_is_estimate(spec)

    if estimate:
        panel_m2 = Decimal(_ceil(spec.area_m2))
    elif spec.scenario == "roof":
        per = _ceil(spec.width_m / au) if spec.width_m is not None else _ceil(Decimal(spec.panel_count) / spec.slopes)
        n = per * spec.slopes
        covered = per * au
        panel_m2 = _round2(n * spec.length_m * au)
        if spec.fixings:
            counts["KIT_FIJACION_TECHO"] = n * (_ceil(spec.length_m / span) + 1)
        if spec.drip_edges:
            counts["GOTERO_FRONTAL"] = _ceil(covered / PIECE) * spec.slopes
            counts["GOTERO_LATERAL"] = 2 * _ceil(spec.length_m / PIECE) * spec.slopes
        if spec.slopes == 2:
            counts["CUMBRERA"] = _ceil(covered / PIECE)
        if spec.gutters:
            counts["CANALON"] = _ceil(covered / PIECE) * spec.slopes
    elif spec.scenario == "wall":
        n = _ceil(spec.run_m / au)
        panel_m2 = _round2(n * spec.length_m * au)
        if spec.fixings:
            counts["KIT_FIJACION_PARED"] = n * (_ceil(spec.length_m / span) + 1)
        counts["PERFIL_U"] = 2 * _ceil(spec.run_m / PIECE)
        if spec.corners > 0:
            counts["ESQUINERO"] = spec.corners * _ceil(spec.length_m / PIECE)
    else:
        perimeter = 2 * (spec.length_m + spec.width_m)
        walls = _ceil(perimeter / au)
        ceiling = _ceil(spec.length_m / au)
        n = walls + ceiling
        panel_m2 = _round2(walls * spec.height_m * au) + _round2(ceiling * spec.width_m * au)
        if spec.fixings:
            counts["KIT_FIJACION_PARED"] = walls * (_ceil(spec.height_m / span) + 1)
            counts["KIT_FIJACION_TECHO"] = ceiling * (_ceil(spec.width_m / span) + 1)
        counts["PERFIL_U"] = 2 * _ceil(perimeter / PIECE)
        counts["ESQUINERO"] = 4 * _ceil(spec.height_m / PIECE) + _ceil(perimeter / PIECE)

    if not estimate and n > MAX_PANELS:
        raise QuoteSpecError(
            "width_m" if spec.scenario != "wall" else "run_m",
            f"needs {n} panels, over the {MAX_PANELS} a quote can cover.",
        )
    if panel_m2 <= 0:
        # the contract leaves zero quantities out; a quote without its panels is no quote
        raise QuoteSpecError(
            "height_m" if spec.scenario == "cold_room" else "length_m",
            "is too small: the panels would measure 0.00 m2. Measures are in meters (e.g. 6 or 4.48).",
            code="too_small",
        )
    if spec.sealant:
        counts["SILICONA"] = _ceil(panel_m2 / 10)

    def line(sku: str, quantity: Decimal) -> QuoteLineResult:
        item = catalog.items[sku]
        price = item.prices[spec.price_list]
        return QuoteLineResult(sku, item.name, quantity, price, _round2(quantity * price), item.unit)

    lines = [line(spec.sku, panel_m2)]
    lines += [line(sku, Decimal(counts[sku])) for sku in LINE_ORDER if counts.get(sku)]
    if spec.zone:
        lines.append(line(f"FLETE_{spec.zone}", Decimal(1)))

    subtotal = sum((ln.amount for ln in lines), Decimal("0.00"))
    iva = _round2(subtotal * IVA_RATE)
    total = subtotal + iva
    return QuoteResult(
        spec=spec,
        lines=tuple(lines),
        subtotal=subtotal,
        iva=iva,
        total=total,
        estimate=estimate,
        requires_approval=total > APPROVAL_THRESHOLD,
        catalog_version=catalog.version,
        catalog_version_id=catalog.version_id,
        missing_for_full_quote=tuple(spec_missing_measures(spec)) if estimate else (),
    )


_SNAPSHOTS: dict[tuple[int, int, str], CatalogSnapshot] = {}


_PINNED: ContextVar[dict[int, CatalogSnapshot] | None] = ContextVar("catalog_pinned", default=None)


@contextmanager
def catalog_pinned() -> Iterator[None]:
    """Within the block every `catalog_snapshot` of a tenant is the same one: a conversation turn
    prices against one catalog version, and looks the current version up once."""
    token = _PINNED.set({})
    try:
        yield
    finally:
        _PINNED.reset(token)


def catalog_snapshot(*, tenant: Tenant) -> CatalogSnapshot:
    """The tenant's current catalog version. A version never changes once imported, so its
    products are read once per process and kept (one small query finds the current version)."""
    pinned = _PINNED.get()
    if pinned is not None and tenant.pk in pinned:
        return pinned[tenant.pk]
    current = (
        CatalogVersion.objects.filter(tenant=tenant, is_current=True).values_list("pk", "version", "checksum").first()
    )
    if current is None:
        raise QuoteSpecError("catalog", "no catalog is loaded for this tenant; run `manage.py bootstrap`.")
    key = (tenant.pk, current[0], current[2])  # the checksum too: ids can be reused after a rollback
    snapshot = _SNAPSHOTS.get(key)
    if snapshot is None:
        items = {
            p.sku: CatalogItem(
                sku=p.sku,
                name=p.name,
                kind=p.kind,
                family=p.family,
                use=p.use,
                thickness_mm=p.thickness_mm,
                useful_width_m=p.useful_width_m,
                max_span_m=p.max_span_m,
                unit=p.unit,
                prices={"venta": p.price_venta_usd, "web": p.price_web_usd},
                colors=tuple(p.colors),
            )
            for p in Product.objects.filter(catalog_version_id=current[0])
        }
        if len(_SNAPSHOTS) > 64:
            _SNAPSHOTS.clear()
        snapshot = _SNAPSHOTS[key] = CatalogSnapshot(version=current[1], items=items, version_id=current[0])
    if pinned is not None:
        pinned[tenant.pk] = snapshot
    return snapshot


# --- records ----------------------------------------------------------------------------------


def quote_create(
    *,
    tenant: Tenant,
    result: QuoteResult,
    customer: Customer | None = None,
    conversation: Conversation | None = None,
    source_message: Message | None = None,
    source_message_id: int | None = None,
    option_group: str = "",
    option_key: str = "",
    issued_at: datetime | None = None,
    sent: bool = False,
) -> Quote:
    """Store a priced quote with its lines. Over the approval threshold it waits for staff.
    sent: it goes to the customer in this same transaction (a turn's reply): stored as sent; the
    caller starts its follow-ups."""
    issued_at = issued_at or timezone.now()
    if result.requires_approval:
        status, sent_at = Quote.Status.PENDING_APPROVAL, None
    else:
        status, sent_at = (Quote.Status.SENT, issued_at) if sent else (Quote.Status.DRAFT, None)
    with transaction.atomic(savepoint=False):  # nothing here is caught: no savepoint needed
        quote = Quote.objects.create(
            tenant=tenant,
            customer=customer,
            conversation=conversation,
            source_message_id=source_message.pk if source_message else source_message_id,
            catalog_version_id=result.catalog_version_id
            or CatalogVersion.objects.get(tenant=tenant, version=result.catalog_version).pk,
            spec=result.spec.as_dict(),
            status=status,
            sent_at=sent_at,
            price_list=result.spec.price_list,
            subtotal=result.subtotal,
            iva=result.iva,
            total=result.total,
            estimate=result.estimate,
            requires_approval=result.requires_approval,
            option_group=option_group,
            option_key=option_key,
            valid_until=(timezone.localtime(issued_at) + timedelta(days=VALIDITY_DAYS)).date(),
        )
        QuoteLine.objects.bulk_create(
            QuoteLine(
                quote=quote,
                position=position,
                sku=line.sku,
                description=line.description,
                unit=line.unit,
                quantity=line.quantity,
                unit_price=line.unit_price,
                amount=line.amount,
            )
            for position, line in enumerate(result.lines, start=1)
        )
    return quote


class QuoteStateError(ValueError):
    """A status change the quote's current status does not allow."""


def quote_approve(*, quote: Quote, user) -> None:
    """Staff approve a quote over the threshold; it can then be sent."""
    moved = Quote.objects.filter(pk=quote.pk, status=Quote.Status.PENDING_APPROVAL).update(
        status=Quote.Status.DRAFT, approved_by=user, approved_at=timezone.now(), updated_at=timezone.now()
    )
    if not moved:
        quote.refresh_from_db()
        raise QuoteStateError(  # said in the request's language: the admin's Spanish, the API's English
            gettext("%(number)s is %(status)s; only quotes pending approval can be approved.")
            % {"number": quote.number, "status": quote.get_status_display().lower()}
        )
    quote.refresh_from_db()
