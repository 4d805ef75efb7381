"""Shopify through its Python library (ShopifyAPI, the REST Admin API):

- Products: every product of the catalog is a Shopify product with one variant of its SKU (made
  when missing), priced from SHOPIFY_PRICE_LIST times SHOPIFY_MARKUP; products kept in stock get
  their available quantity as the inventory level at the shop's location. The catalog and the
  inventory win both fields; only what differs is sent.
- Orders: paid orders become orders here once each (read by `updated_at_min`, and delivered by
  the `orders/paid` and `orders/cancelled` webhooks, stored raw first and checked against their
  X-Shopify-Hmac-Sha256); cancelled ones are cancelled here."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import logging
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any, TypeVar

import pyactiveresource.connection
import shopify
from django.conf import settings
from django.utils.translation import gettext
from shopify.api_version import ApiVersion, Release, VersionNotFoundError

from agents.conversations.inbound import InboundError, inbound_payload_outcome, phone_normalize
from agents.datasync.http import Pacer, RecordRefused, SourceRefused, call_with_retries, retry_after_seconds
from agents.datasync.links import sync_links_save
from agents.datasync.offer import offer_price, offer_stock
from agents.orders.marketplace import MarketLine, MarketOrderRefused, market_order_cancelled, market_order_record
from bmc.conversations.models import Customer, InboundPayload
from bmc.core.models import Tenant, tenant_get
from bmc.datasync.models import Source, SyncSource
from bmc.quotes.models import Product

logger = logging.getLogger(__name__)
T = TypeVar("T")
PAGE = 250
TIMEOUT = 20


def _retryable(error: Exception) -> tuple[str, float | None, bool] | None:
    if isinstance(error, pyactiveresource.connection.ConnectionError):
        code = error.response.code
        if code == 429 or (code or 0) >= 500:
            headers = {k.lower(): v for k, v in (error.response.headers or {}).items()}
            asked = retry_after_seconds(headers.get("retry-after"))
            return f"answered {code}", asked, code == 429
        return None
    if isinstance(error, pyactiveresource.connection.ServerError):
        return f"answered {error.code}", None, False
    if isinstance(error, pyactiveresource.connection.Error | http.client.HTTPException | OSError):
        return f"failed: {error}", None, False  # refused connection, a body cut short
    return None


class ShopifyClient:
    """One run's Shopify: its session activated, its requests paced, retried and counted."""

    def __init__(self) -> None:
        version = settings.SHOPIFY_API_VERSION
        try:
            ApiVersion.coerce_to_version(version)
        except VersionNotFoundError:
            ApiVersion.define_version(Release(version))  # a newer release than the library lists
        session = shopify.Session(settings.SHOPIFY_SHOP, version, settings.SHOPIFY_ACCESS_TOKEN)
        shopify.ShopifyResource.activate_session(session)
        if settings.SHOPIFY_API_URL:  # a proxy, or the sandbox on this machine
            shopify.ShopifyResource.site = f"{settings.SHOPIFY_API_URL.rstrip('/')}/admin/api/{version}"
        shopify.ShopifyResource.timeout = TIMEOUT
        self.pacer = Pacer(settings.SHOPIFY_REQUESTS_PER_MINUTE)
        self.calls = 0

    def call(self, what: str, fn: Callable[[], T], *, idempotent: bool = True) -> T:
        def once() -> T:
            self.calls += 1
            return fn()

        try:
            return call_with_retries(
                once, what=f"Shopify ({what})", retryable=_retryable, pacer=self.pacer, idempotent=idempotent
            )
        except (pyactiveresource.connection.UnauthorizedAccess, pyactiveresource.connection.ForbiddenAccess) as error:
            raise SourceRefused(f"Shopify refused SHOPIFY_ACCESS_TOKEN ({what}): {error}") from error
        except pyactiveresource.connection.ClientError as error:
            raise RecordRefused(
                f"Shopify refused {what}: {error.response.code} {error.response.body!r:.300}"
            ) from error

    def every(self, what: str, first: Callable[[], Any]) -> Iterator[Any]:
        """Every record of a paged listing, page after page by its Link header."""
        page = self.call(what, first)
        while True:
            yield from page
            if not page.has_next_page():
                return
            page = self.call(what, page.next_page)

    def close(self) -> None:
        shopify.ShopifyResource.clear_session()


def products_push(*, tenant: Tenant, client: ShopifyClient) -> dict[str, Any]:
    products = {p.sku: p for p in Product.objects.filter(tenant=tenant, catalog_version__is_current=True)}
    stock = offer_stock(tenant)
    counts = {"read": 0, "created": 0, "updated": 0, "unchanged": 0, "refused": 0, "refusals": []}
    variants: dict[str, Any] = {}  # sku -> its Shopify variant
    for item in client.every("products", lambda: shopify.Product.find(limit=PAGE)):
        for variant in item.variants:
            if variant.sku in products:
                variants[variant.sku] = variant
    made: dict[str, str] = {}
    for sku, product in products.items():
        counts["read"] += 1
        price = offer_price(product, price_list=settings.SHOPIFY_PRICE_LIST, markup=settings.SHOPIFY_MARKUP)
        variant = variants.get(sku)
        if variant is None:
            created = shopify.Product(
                {
                    "title": product.name,
                    "vendor": "BMC Uruguay",
                    "product_type": product.family,
                    "status": "active",
                    "variants": [
                        {"sku": sku, "price": str(price), "inventory_management": "shopify" if sku in stock else None}
                    ],
                }
            )
            # a create sent twice is two products: after an unclear failure the next run reads first
            refused = _saved(client, f"create product {sku}", created, idempotent=False)
            if refused is None:
                variants[sku] = created.variants[0]
                made[sku] = str(created.id)
                counts["created"] += 1
        elif Decimal(str(variant.price)) != price:
            variant.price = str(price)
            refused = _saved(client, f"variant {sku}", variant)
            counts["updated"] += refused is None
        else:
            counts["unchanged"] += 1
            continue
        if refused:  # this product alone: the others go on
            counts["refused"] += 1
            counts["refusals"].append({"sku": sku, "reason": refused})
    if made:
        sync_links_save(
            tenant=tenant, source=Source.SHOPIFY, kind="product", checksums=dict.fromkeys(made, ""), remote=made
        )
    counts["inventory"] = _inventory_push(client=client, variants=variants, stock=stock)
    return counts


def _saved(client: ShopifyClient, what: str, resource: Any, *, idempotent: bool = True) -> str | None:
    """Why Shopify refused to save the resource (its 422 errors, or another 4xx), None once saved."""
    try:
        if client.call(what, resource.save, idempotent=idempotent):
            return None
    except RecordRefused as refused:
        return str(refused)
    return f"Shopify refused {what}: {'; '.join(resource.errors.full_messages())}"


def _inventory_push(*, client: ShopifyClient, variants: dict[str, Any], stock: dict[str, int]) -> dict[str, int]:
    location_id = settings.SHOPIFY_LOCATION_ID or client.call("locations", shopify.Location.find)[0].id
    items = {variants[sku].inventory_item_id: sku for sku in stock if sku in variants}
    if not items:
        return {"updated": 0, "unchanged": 0}
    levels = {}
    ids = list(items)
    for start in range(0, len(ids), 50):
        chunk = ",".join(str(i) for i in ids[start : start + 50])
        for level in client.call(
            "inventory levels",
            lambda chunk=chunk: shopify.InventoryLevel.find(inventory_item_ids=chunk, location_ids=location_id),
        ):
            levels[level.inventory_item_id] = level.available
    result = {"updated": 0, "unchanged": 0}
    for item_id, sku in items.items():
        if levels.get(item_id) == stock[sku]:
            result["unchanged"] += 1
            continue
        try:
            client.call(
                f"inventory {sku}",
                lambda item_id=item_id, sku=sku: shopify.InventoryLevel.set(location_id, item_id, stock[sku]),
            )
        except RecordRefused as refused:
            result["refused"] = result.get("refused", 0) + 1
            logger.warning("shopify inventory of %s refused: %s", sku, refused)
            continue
        result["updated"] += 1
    return result


def _customer(tenant: Tenant, raw: dict[str, Any]) -> Customer | None:
    """The order's customer, when Shopify gives a phone number we can read."""
    who = raw.get("customer") or {}
    address = raw.get("shipping_address") or raw.get("billing_address") or {}
    try:
        phone = phone_normalize(str(raw.get("phone") or who.get("phone") or address.get("phone") or ""))
    except InboundError:
        return None
    name = " ".join(filter(None, [who.get("first_name"), who.get("last_name")])) or address.get("name") or ""
    customer, _ = Customer.objects.get_or_create(
        tenant=tenant, phone=phone, defaults={"name": name[:200], "email": str(raw.get("email") or "")[:254]}
    )
    return customer


def _money(value: Any) -> Decimal:
    return Decimal(str(value or 0))


def _lines(raw: dict[str, Any]) -> list[MarketLine]:
    """What the buyer paid, line by line: each line's price less the discounts allocated to it,
    with its tax when the shop's prices leave tax out, and the shipping as a line of its own."""
    taxed = raw.get("taxes_included") is False

    def paid(gross: Decimal, discounts: Decimal, taxes: list[dict[str, Any]]) -> Decimal:
        return gross - discounts + (sum((_money(t.get("price")) for t in taxes), Decimal(0)) if taxed else 0)

    lines = []
    for line in raw.get("line_items") or []:
        quantity = _money(line.get("quantity", 1)) or Decimal(1)
        allocations = line.get("discount_allocations") or []
        discounts = (
            sum((_money(a.get("amount")) for a in allocations), Decimal(0))
            if allocations
            else _money(line.get("total_discount"))
        )
        amount = paid(_money(line.get("price")) * quantity, discounts, line.get("tax_lines") or [])
        lines.append(
            MarketLine(
                sku=str(line.get("sku") or line.get("variant_id") or ""),
                description=str(line.get("title") or line.get("name") or ""),
                quantity=quantity,
                unit_price=(amount / quantity).quantize(Decimal("0.01")),
                amount=amount,
            )
        )
    for shipping in raw.get("shipping_lines") or []:
        price = _money(shipping.get("discounted_price", shipping.get("price")))
        amount = paid(price, Decimal(0), shipping.get("tax_lines") or [])
        if amount > 0:
            title = str(shipping.get("title") or "")
            lines.append(
                MarketLine(sku="ENVIO", description=f"Envío {title}".strip(), quantity=Decimal(1), unit_price=amount)
            )
    return lines


def shopify_order_apply(*, tenant: Tenant, raw: dict[str, Any]) -> str:
    """One Shopify order (from a listing or a webhook): 'created', 'cancelled' or 'unchanged'."""
    external_id = str(raw["id"])
    if raw.get("cancelled_at"):
        cancelled = market_order_cancelled(
            tenant=tenant, source=Source.SHOPIFY, external_id=external_id, reason=gettext("Cancelled on Shopify.")
        )
        return "cancelled" if cancelled else "unchanged"
    if raw.get("financial_status") != "paid":
        return "unchanged"  # not paid yet: its orders/paid webhook, or a later run, brings it
    _, created = market_order_record(
        tenant=tenant,
        source=Source.SHOPIFY,
        external_id=external_id,
        lines=_lines(raw),
        currency=str(raw.get("currency") or "USD"),
        paid=True,
        buyer=str(raw.get("email") or raw.get("name") or ""),
        customer=_customer(tenant, raw),
    )
    return "created" if created else "unchanged"


def orders_pull(*, tenant: Tenant, client: ShopifyClient, cursor: dict[str, Any]) -> dict[str, Any]:
    since = cursor.get("orders_updated_at_min")
    held_at = None
    query = {"status": "any", "limit": PAGE, "order": "updated_at asc"} | ({"updated_at_min": since} if since else {})
    counts = {"read": 0, "created": 0, "updated": 0, "unchanged": 0, "refused": 0, "refusals": []}
    for order in client.every("orders", lambda: shopify.Order.find(**query)):
        raw = order.to_dict()
        counts["read"] += 1
        try:
            outcome = shopify_order_apply(tenant=tenant, raw=raw)
        except MarketOrderRefused as refused:
            counts["refused"] += 1
            counts["refusals"].append({"id": str(raw.get("id")), "reason": str(refused)})
            held_at = held_at or raw.get("updated_at")  # read again next run, not passed by
            continue
        counts[{"created": "created", "cancelled": "updated"}.get(outcome, "unchanged")] += 1
        if raw.get("updated_at") and (not since or raw["updated_at"] > since):
            since = raw["updated_at"]
    cursor["orders_updated_at_min"] = held_at or since
    return counts


def shopify_run(*, tenant: Tenant, source: SyncSource) -> dict[str, Any]:
    client = ShopifyClient()
    cursor = dict(source.cursor)
    try:
        # orders first: what sold there is reserved here before the stock left is pushed back
        parts = {"orders": orders_pull(tenant=tenant, client=client, cursor=cursor)}
        parts["products"] = products_push(tenant=tenant, client=client)
    finally:
        client.close()
    source.cursor = cursor
    parts["api_calls"] = client.calls
    return parts


def webhook_signature_problem(*, body: bytes, signature: str | None) -> str | None:
    """Why a webhook is not Shopify's (its X-Shopify-Hmac-Sha256, the base64 HMAC-SHA256 of the body
    under the app's secret), or None when it is."""
    if not settings.SHOPIFY_WEBHOOK_SECRET:
        return "SHOPIFY_WEBHOOK_SECRET is not set: webhooks cannot be checked, so none is accepted."
    if not signature:
        return "X-Shopify-Hmac-Sha256 is missing."
    expected = base64.b64encode(hmac.new(settings.SHOPIFY_WEBHOOK_SECRET.encode(), body, hashlib.sha256).digest())
    if not hmac.compare_digest(expected, signature.strip().encode()):
        return "X-Shopify-Hmac-Sha256 does not match the body: not signed with this app's secret."
    return None


def shopify_webhook_apply(*, tenant: Tenant, payload_id: int) -> dict[str, Any]:
    """The order a stored webhook names, applied (once: by its Shopify id) as Shopify has it now,
    read again from the API when it is configured: webhooks come late and out of order, and an
    old `orders/paid` must not bring back an order cancelled since."""
    payload = tenant_get(InboundPayload.objects.all(), tenant_id=tenant.pk, pk=payload_id)
    try:
        raw = json.loads(payload.body)
        raw = _order_now(raw) or raw
        outcome = shopify_order_apply(tenant=tenant, raw=raw)
    except (ValueError, KeyError, TypeError, MarketOrderRefused) as error:
        inbound_payload_outcome(payload=payload, outcome=InboundPayload.Outcome.REJECTED, error=str(error))
        return {"payload_id": payload_id, "outcome": "rejected", "error": str(error)}
    inbound_payload_outcome(payload=payload, outcome=InboundPayload.Outcome.ACCEPTED)
    return {"payload_id": payload_id, "outcome": outcome, "order_id": raw.get("id")}


def _order_now(raw: dict[str, Any]) -> dict[str, Any] | None:
    if not (settings.SHOPIFY_SHOP and settings.SHOPIFY_ACCESS_TOKEN):
        return None
    client = ShopifyClient()
    try:
        return client.call(f"order {raw['id']}", lambda: shopify.Order.find(raw["id"])).to_dict()
    except RecordRefused:  # deleted there since: the webhook's copy is all there is
        return None
    finally:
        client.close()
