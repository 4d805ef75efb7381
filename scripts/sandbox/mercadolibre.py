"""MercadoLibre's API on this machine: OAuth refresh (a refresh token is good for one use and a
new one comes back), a seller's listings (search, multiget, update), questions (search,
answers) and orders (search by last update), paged as MercadoLibre pages them.

For a person: `POST /_sandbox/questions {"item_id", "text"}` asks a question on a listing, and
`POST /_sandbox/orders {"item_id", "quantity"}` buys from one (a paid order)."""

from __future__ import annotations

import itertools
import re
import secrets
import time
from datetime import UTC, datetime
from typing import Any

from scripts.sandbox.http import Reply, SandboxServer

USER_ID = 123456789


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+00:00")


class MercadoLibreSandbox(SandboxServer):
    name = "mercadolibre-sandbox"
    persisted = ("refresh_tokens", "access_tokens", "items", "questions", "orders")

    def __init__(self, *, client_id: str = "ml-app", client_secret: str = "ml-secret", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.client_id, self.client_secret = client_id, client_secret
        self.refresh_tokens: set[str] = set()
        self.access_tokens: dict[str, float] = {}
        self.token_lifetime = 21600
        self.items: dict[str, dict[str, Any]] = {}
        self.questions: dict[int, dict[str, Any]] = {}
        self.orders: dict[int, dict[str, Any]] = {}
        self.state_load()
        self._ids = itertools.count(max([*self.questions, *(o - 2000000000 for o in self.orders)], default=999) + 1)

    # --- what a test or a person sets up ---------------------------------------------------------

    def refresh_token_issue(self) -> str:
        token = "TG-" + secrets.token_hex(12)
        self.refresh_tokens.add(token)
        return token

    def item_put(self, item_id: str, *, sku: str, price: float, quantity: int, title: str = "", currency: str = "USD"):
        self.items[item_id] = {
            "id": item_id,
            "title": title or sku,
            "price": price,
            "currency_id": currency,
            "available_quantity": quantity,
            "status": "active",
            "seller_id": USER_ID,
            "seller_custom_field": None,
            "attributes": [{"id": "SELLER_SKU", "value_name": sku}],
        }

    def question_ask(self, item_id: str, text: str) -> int:
        question_id = next(self._ids)
        self.questions[question_id] = {
            "id": question_id,
            "item_id": item_id,
            "seller_id": USER_ID,
            "status": "UNANSWERED",
            "text": text,
            "date_created": _now(),
            "from": {"id": 555},
            "answer": None,
        }
        return question_id

    def order_buy(self, item_id: str, quantity: int = 1, *, status: str = "paid") -> int:
        item = self.items[item_id]
        order_id = next(self._ids) + 2000000000
        self.orders[order_id] = {
            "id": order_id,
            "status": status,
            "date_created": _now(),
            "date_last_updated": _now(),
            "currency_id": item["currency_id"],
            "total_amount": item["price"] * quantity,
            "buyer": {"id": 555, "nickname": "COMPRADOR_TEST"},
            "seller": {"id": USER_ID},
            "order_items": [
                {
                    "item": {"id": item_id, "title": item["title"], "seller_sku": _sku(item)},
                    "quantity": quantity,
                    "unit_price": item["price"],
                    "currency_id": item["currency_id"],
                }
            ],
        }
        return order_id

    def order_cancel(self, order_id: int) -> None:
        self.orders[order_id].update(status="cancelled", date_last_updated=_now())

    # --- the API ---------------------------------------------------------------------------------

    def faulty(self, request: dict[str, Any]) -> bool:
        return not request["path"].startswith(("/oauth", "/_sandbox"))

    def handle(self, request: dict[str, Any]) -> Reply:
        path, method = request["path"], request["method"]
        if path == "/oauth/token" and method == "POST":
            return self._token(request["form"])
        if path.startswith("/_sandbox/"):
            return self._control(path, request["json"] or {})
        token = (request["headers"].get("Authorization") or "").removeprefix("Bearer ")
        if self.access_tokens.get(token, 0) < time.time():
            return Reply(401, {"message": "invalid access token", "error": "unauthorized", "status": 401, "cause": []})
        query = {k: v[0] for k, v in request["query"].items()}
        if path == f"/users/{USER_ID}/items/search" and method == "GET":
            ids = [i for i, item in self.items.items() if item["status"] == query.get("status", item["status"])]
            return Reply(200, {"seller_id": str(USER_ID), **self._page(ids, query, "results")})
        if path == "/items" and method == "GET":
            return Reply(
                200,
                [
                    {"code": 200, "body": self.items[i]} if i in self.items else {"code": 404, "body": {"id": i}}
                    for i in query.get("ids", "").split(",")
                    if i
                ],
            )
        if path.startswith("/items/") and method == "PUT":
            item = self.items.get(path.removeprefix("/items/"))
            if item is None:
                return Reply(404, {"message": "item not found", "error": "not_found", "status": 404})
            change = request["json"] or {}
            unknown = set(change) - {"price", "available_quantity", "title"}
            if unknown:
                return Reply(400, {"message": f"Fields not allowed: {sorted(unknown)}", "status": 400})
            item.update(change)
            return Reply(200, item)
        if path == "/questions/search" and method == "GET":
            found = [q for q in self.questions.values() if q["status"] == query.get("status", q["status"])]
            page = self._page(found, query, "questions")
            return Reply(
                200,
                {"total": page["paging"]["total"], "limit": page["paging"]["limit"], "questions": page["questions"]},
            )
        if path == "/answers" and method == "POST":
            body = request["json"] or {}
            question = self.questions.get(int(body.get("question_id", 0)))
            if question is None:
                return Reply(404, {"message": "Question not found", "status": 404})
            if question["status"] != "UNANSWERED":
                return Reply(400, {"message": "Question already answered", "error": "bad_request", "status": 400})
            if re.search(r"\d{8}|@|https?://|www\.", str(body.get("text", ""))):  # contact details: not allowed
                return Reply(
                    400, {"message": "The answer has forbidden words", "error": "forbidden_words", "status": 400}
                )
            question["status"] = "ANSWERED"
            question["answer"] = {"text": body.get("text", ""), "status": "ACTIVE", "date_created": _now()}
            return Reply(200, question)
        if path.startswith("/questions/") and path.removeprefix("/questions/").isdigit() and method == "GET":
            question = self.questions.get(int(path.removeprefix("/questions/")))
            return Reply(200, question) if question else Reply(404, {"message": "Question not found", "status": 404})
        if path == "/orders/search" and method == "GET":
            since = query.get("order.date_last_updated.from")
            found = sorted(
                (o for o in self.orders.values() if not since or o["date_last_updated"] >= since),
                key=lambda o: o["date_last_updated"],
            )
            return Reply(200, self._page(found, query, "results"))
        return Reply(404, {"message": f"No such resource {method} {path}", "error": "not_found", "status": 404})

    def _page(self, rows: list[Any], query: dict[str, str], key: str) -> dict[str, Any]:
        offset, limit = int(query.get("offset", 0)), min(int(query.get("limit", 50)), 50)
        return {key: rows[offset : offset + limit], "paging": {"total": len(rows), "offset": offset, "limit": limit}}

    def _token(self, form: dict[str, str]) -> Reply:
        if (form.get("client_id"), form.get("client_secret")) != (self.client_id, self.client_secret):
            return Reply(
                401, {"error": "invalid_client", "message": "invalid client_id or client_secret", "status": 401}
            )
        if form.get("grant_type") != "refresh_token" or form.get("refresh_token") not in self.refresh_tokens:
            return Reply(
                400,
                {
                    "error": "invalid_grant",
                    "message": "Error validating grant. Your authorization code or refresh token may be expired or "
                    "it was already used",
                    "status": 400,
                },
            )
        self.refresh_tokens.discard(form["refresh_token"])  # good for one use
        access = "APP_USR-" + secrets.token_hex(12)
        self.access_tokens[access] = time.time() + self.token_lifetime
        return Reply(
            200,
            {
                "access_token": access,
                "token_type": "Bearer",
                "expires_in": self.token_lifetime,
                "scope": "offline_access read write",
                "user_id": USER_ID,
                "refresh_token": self.refresh_token_issue(),
            },
        )

    def _control(self, path: str, body: dict[str, Any]) -> Reply:
        if path == "/_sandbox/questions" and body.get("item_id") in self.items:
            return Reply(201, {"id": self.question_ask(body["item_id"], str(body.get("text", "")))})
        if path == "/_sandbox/orders" and body.get("item_id") in self.items:
            return Reply(201, {"id": self.order_buy(body["item_id"], int(body.get("quantity", 1)))})
        return Reply(400, {"message": f"Give an item_id of {sorted(self.items)}", "status": 400})


def _sku(item: dict[str, Any]) -> str:
    return next((a["value_name"] for a in item["attributes"] if a["id"] == "SELLER_SKU"), "")
