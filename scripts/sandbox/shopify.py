"""Shopify's REST Admin API on this machine, as the ShopifyAPI library calls it: products and
their variants, locations and inventory levels, orders (paged by Link headers), behind the
X-Shopify-Access-Token of a custom app, answering 429 with Retry-After as Shopify does; and its
webhooks, sent signed with X-Shopify-Hmac-Sha256.

For a person: `POST /_sandbox/orders {"sku", "quantity", "phone"}` places a paid order and
delivers its `orders/paid` webhook to the URL the sandbox was given."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import re
import urllib.request
from datetime import UTC, datetime
from typing import Any

from scripts.sandbox.http import Reply, SandboxServer

_PATH = re.compile(r"^/admin/api/(?P<version>[^/]+)/(?P<rest>.+)\.json$")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


class ShopifySandbox(SandboxServer):
    name = "shopify-sandbox"
    persisted = ("products", "levels", "orders")

    def __init__(self, *, token: str = "shpat_sandbox", secret: str = "shpss_sandbox", webhook_url: str = "", **kwargs):
        super().__init__(**kwargs)
        self.token, self.secret, self.webhook_url = token, secret, webhook_url
        self.products: dict[int, dict[str, Any]] = {}
        self.levels: dict[int, int] = {}  # inventory item id -> available
        self.orders: dict[int, dict[str, Any]] = {}
        self.location = {"id": 7001, "name": "Planta BMC", "active": True}
        self.state_load()
        used = [*self.products, *self.orders, *self.levels] + [
            v["id"] for p in self.products.values() for v in p["variants"]
        ]
        self._ids = itertools.count(max(used, default=9000000) + 1)
        self.page_size: int | None = None  # a smaller page than asked, to make a listing page
        self.refused_skus: set[str] = set()  # variants whose changes are answered 422

    # --- what a test or a person sets up ---------------------------------------------------------

    def product_put(self, sku: str, price: str, *, title: str = "") -> dict[str, Any]:
        return self._product_create({"title": title or sku, "variants": [{"sku": sku, "price": price}]})

    def variant(self, sku: str) -> dict[str, Any] | None:
        return next((v for p in self.products.values() for v in p["variants"] if v["sku"] == sku), None)

    def order_place(self, sku: str, quantity: int = 1, *, phone: str = "", paid: bool = True) -> dict[str, Any]:
        variant = self.variant(sku) or {"sku": sku, "price": "1.00", "id": None, "title": sku}
        order_id = next(self._ids)
        order = {
            "id": order_id,
            "name": f"#{1000 + len(self.orders) + 1}",
            "email": "comprador@example.com",
            "phone": phone or None,
            "created_at": _now(),
            "updated_at": _now(),
            "cancelled_at": None,
            "financial_status": "paid" if paid else "pending",
            "currency": "USD",
            "total_price": f"{float(variant['price']) * quantity:.2f}",
            "customer": {"first_name": "Lucía", "last_name": "Pérez", "phone": phone or None},
            "line_items": [
                {
                    "id": next(self._ids),
                    "variant_id": variant["id"],
                    "sku": sku,
                    "title": variant.get("title") or sku,
                    "quantity": quantity,
                    "price": variant["price"],
                }
            ],
        }
        self.orders[order_id] = order
        return order

    def order_cancel(self, order_id: int) -> dict[str, Any]:
        self.orders[order_id].update(cancelled_at=_now(), updated_at=_now())
        return self.orders[order_id]

    def webhook_body(self, topic: str, order: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
        body = json.dumps(order).encode()
        signature = base64.b64encode(hmac.new(self.secret.encode(), body, hashlib.sha256).digest()).decode()
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-Sha256": signature,
            "X-Shopify-Shop-Domain": "bmc-sandbox.myshopify.com",
            "X-Shopify-Webhook-Id": f"wh-{next(self._ids)}",
        }
        return body, headers

    def webhook_send(self, topic: str, order: dict[str, Any]) -> int:
        body, headers = self.webhook_body(topic, order)
        request = urllib.request.Request(self.webhook_url, data=body, headers=headers, method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status

    # --- the API ---------------------------------------------------------------------------------

    def faulty(self, request: dict[str, Any]) -> bool:
        return request["path"].startswith("/admin/")

    def handle(self, request: dict[str, Any]) -> Reply:
        path, method = request["path"], request["method"]
        if path == "/_sandbox/orders" and method == "POST":
            body = request["json"] or {}
            order = self.order_place(
                str(body.get("sku", "")), int(body.get("quantity", 1)), phone=body.get("phone", "")
            )
            status = self.webhook_send("orders/paid", order) if self.webhook_url else None
            return Reply(201, {"order": order, "webhook_status": status})
        if request["headers"].get("X-Shopify-Access-Token") != self.token:
            return Reply(
                401, {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}
            )
        match = _PATH.match(path)
        if not match:
            return Reply(404, {"errors": "Not Found"})
        rest, query = match["rest"], {k: v[0] for k, v in request["query"].items()}
        body = request["json"] or {}
        if rest == "products" and method == "GET":
            return self._page(request, list(self.products.values()), "products", query)
        if rest == "products" and method == "POST":
            return Reply(201, {"product": self._product_create(body.get("product") or {})})
        variant_id = re.fullmatch(r"(?:products/\d+/)?variants/(\d+)", rest)
        if variant_id and method == "PUT":
            variant = next(
                (v for p in self.products.values() for v in p["variants"] if v["id"] == int(variant_id[1])), None
            )
            if variant is None:
                return Reply(404, {"errors": "Not Found"})
            change = body.get("variant") or {}
            if variant["sku"] in self.refused_skus:
                return Reply(422, {"errors": {"base": [f"{variant['sku']} cannot be changed while a sale is on"]}})
            if "price" in change and not re.fullmatch(r"\d+(\.\d{1,2})?", str(change["price"])):
                return Reply(422, {"errors": {"price": ["is not a number"]}})
            variant.update({k: v for k, v in change.items() if k in ("price", "sku", "title")})
            variant["updated_at"] = _now()
            return Reply(200, {"variant": variant})
        if rest == "locations" and method == "GET":
            return Reply(200, {"locations": [self.location]})
        if rest == "inventory_levels" and method == "GET":
            ids = [int(i) for i in query.get("inventory_item_ids", "").split(",") if i]
            return Reply(
                200,
                {
                    "inventory_levels": [
                        {"inventory_item_id": i, "location_id": self.location["id"], "available": self.levels[i]}
                        for i in ids
                        if i in self.levels
                    ]
                },
            )
        if rest == "inventory_levels/set" and method == "POST":
            item_id, available = int(body["inventory_item_id"]), int(body["available"])
            self.levels[item_id] = available
            level = {"inventory_item_id": item_id, "location_id": int(body["location_id"]), "available": available}
            return Reply(200, {"inventory_level": level})
        order_id = re.fullmatch(r"orders/(\d+)", rest)
        if order_id and method == "GET":
            order = self.orders.get(int(order_id[1]))
            return Reply(200, {"order": order}) if order else Reply(404, {"errors": "Not Found"})
        if rest == "orders" and method == "GET":
            since = query.get("updated_at_min") or query.get("page_info", "").partition("|")[2] or None
            found = sorted(
                (o for o in self.orders.values() if not since or o["updated_at"] >= since),
                key=lambda o: o["updated_at"],
            )
            return self._page(request, found, "orders", query)
        return Reply(404, {"errors": "Not Found"})

    def _product_create(self, fields: dict[str, Any]) -> dict[str, Any]:
        product_id = next(self._ids)
        variants = []
        for given in fields.get("variants") or [{}]:
            variant_id, item_id = next(self._ids), next(self._ids)
            variants.append(
                {
                    "id": variant_id,
                    "product_id": product_id,
                    "title": "Default Title",
                    "sku": given.get("sku", ""),
                    "price": str(given.get("price", "0.00")),
                    "inventory_item_id": item_id,
                    "inventory_management": given.get("inventory_management"),
                }
            )
            self.levels[item_id] = 0
        product = {
            "id": product_id,
            "title": fields.get("title", ""),
            "vendor": fields.get("vendor", ""),
            "product_type": fields.get("product_type", ""),
            "status": fields.get("status", "active"),
            "created_at": _now(),
            "updated_at": _now(),
            "variants": variants,
        }
        self.products[product_id] = product
        return product

    def _page(self, request: dict[str, Any], rows: list[Any], key: str, query: dict[str, str]) -> Reply:
        limit = min(int(query.get("limit", 50)), 250, self.page_size or 250)
        # a page_info carries the listing's filter, as Shopify's opaque cursor does
        cursor, _, carried = query.get("page_info", "").partition("|")
        offset = int(cursor or 0)
        page = rows[offset : offset + limit]
        headers = {}
        if offset + limit < len(rows):
            base = f"{self.url}{request['path']}"
            carried = query.get("updated_at_min") or carried
            headers["Link"] = f'<{base}?limit={limit}&page_info={offset + limit}|{carried}>; rel="next"'
        return Reply(200, {key: page}, headers)
