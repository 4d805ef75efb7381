"""MercadoLibre over its REST API with `requests`: MercadoLibre publishes no maintained Python SDK
on PyPI (its GitHub SDK is a generated client that is not released; the packages that are, are
small wrappers last touched years ago), and the calls needed are few.

- Listings: each listing whose SKU (`seller_custom_field` or the SELLER_SKU attribute) is a
  product of the catalog gets the catalog's price (MERCADOLIBRE_PRICE_LIST times
  MERCADOLIBRE_MARKUP) and, for products kept in stock, the quantity available. Only what differs
  from the listing is sent. The catalog and the inventory win both fields.
- Questions: unanswered questions are stored as they came, answered from the catalog when the
  catalog agent can, otherwise left to staff, whose answer is posted back from the admin.
- Orders: paid orders become orders here (once each); orders cancelled there are cancelled here.
- OAuth: the access token is refreshed before it expires, or when an answer says it expired; the
  refresh token MercadoLibre hands back with each refresh replaces the last one, stored encrypted."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from agents.catalog.answers import catalog_answer
from agents.datasync.http import Pacer, RecordRefused, SourceRefused, SourceUnavailable, request_with_retries
from agents.datasync.offer import offer_price, offer_stock
from agents.datasync.secrets import secrets_open, secrets_seal
from agents.nlu.parse import nlu_parse
from agents.orders.marketplace import MarketLine, MarketOrderRefused, market_order_cancelled, market_order_record
from agents.staff import admin_place, staff_task_open
from bmc.core.models import Tenant
from bmc.datasync.models import MarketQuestion, Source, SyncSource
from bmc.quotes.models import Product
from bmc.sales.models import StaffTask

logger = logging.getLogger(__name__)
TIMEOUT = 20
PAGE = 50
MULTIGET = 20
REFRESH_BEFORE = timedelta(minutes=10)


class MercadoLibre:
    """One run's client: its token, pacing and count of requests."""

    def __init__(self, source: SyncSource) -> None:
        self.source = source
        self.session = requests.Session()
        self.pacer = Pacer(settings.MERCADOLIBRE_REQUESTS_PER_MINUTE)
        self.calls = 0
        self.skus: dict[str, str] = {}  # listing id -> its SKU, as read this run
        self.tokens = secrets_open(source.secrets)

    @property
    def user_id(self) -> str:
        self._token()
        return str(self.tokens["user_id"])

    def _send(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        url = settings.MERCADOLIBRE_API_URL.rstrip("/") + path

        def send() -> requests.Response:
            self.calls += 1
            return self.session.request(method, url, timeout=TIMEOUT, **kwargs)

        return request_with_retries(
            send,
            what=f"MercadoLibre ({method} {path.split('?')[0]})",
            pacer=self.pacer,
            idempotent=method != "POST",  # a refresh spends its token; an answer is given once
        )

    def _token(self, *, force: bool = False) -> str:
        expires = self.tokens.get("expires_at")
        if not force and expires and datetime.fromisoformat(expires) - REFRESH_BEFORE > timezone.now():
            return self.tokens["access_token"]
        refresh = self.tokens.get("refresh_token") or settings.MERCADOLIBRE_REFRESH_TOKEN
        response = self._send(
            "POST",
            "/oauth/token",
            data={
                "grant_type": "refresh_token",
                "client_id": settings.MERCADOLIBRE_CLIENT_ID,
                "client_secret": settings.MERCADOLIBRE_CLIENT_SECRET,
                "refresh_token": refresh,
            },
            headers={"Accept": "application/json"},
        )
        if not response.ok:
            raise SourceRefused(
                f"MercadoLibre refused the refresh token ({response.status_code} {response.text[:200]}): "
                "authorize the app again and set MERCADOLIBRE_REFRESH_TOKEN."
            )
        body = response.json()
        self.tokens = {
            "access_token": body["access_token"],
            "refresh_token": body.get("refresh_token") or refresh,
            "user_id": body.get("user_id") or self.tokens.get("user_id"),
            "expires_at": (timezone.now() + timedelta(seconds=int(body.get("expires_in", 21600)))).isoformat(),
        }
        # the old refresh token is spent: the new one is kept before anything else can fail
        self.source.secrets = secrets_seal(self.tokens)
        SyncSource.objects.filter(pk=self.source.pk).update(secrets=self.source.secrets)
        return self.tokens["access_token"]

    def call(self, method: str, path: str, *, json: Any = None, missing_ok: bool = False) -> Any:
        """The JSON of a call, with the token refreshed when it is due or an answer says it expired."""
        for attempt in range(2):
            headers = {"Authorization": f"Bearer {self._token(force=attempt > 0)}"}
            response = self._send(method, path, json=json, headers=headers)
            if response.status_code != 401:
                break
        if response.status_code == 404 and missing_ok:
            return None
        if not response.ok:
            refused = SourceRefused if response.status_code in (401, 403) else RecordRefused
            raise refused(
                f"MercadoLibre refused {method} {path.split('?')[0]}: {response.status_code} {response.text[:300]}"
            )
        try:
            return response.json()
        except ValueError as error:
            raise SourceUnavailable(f"MercadoLibre sent a partial answer to {path.split('?')[0]}") from error

    def pages(self, path: str, key: str) -> list[Any]:
        """Every result of a paged search; a page that comes back short ends it (nothing loops)."""
        found: list[Any] = []
        offset = 0
        joiner = "&" if "?" in path else "?"
        while True:
            body = self.call("GET", f"{path}{joiner}offset={offset}&limit={PAGE}")
            page = body.get(key) or []
            found += page
            total = (body.get("paging") or {}).get("total", body.get("total", len(found)))
            offset += len(page)
            if not page or offset >= total:
                return found


def _sku(item: dict[str, Any]) -> str:
    if item.get("seller_custom_field"):
        return str(item["seller_custom_field"]).strip()
    for attribute in item.get("attributes") or []:
        if attribute.get("id") == "SELLER_SKU":
            return str(attribute.get("value_name") or "").strip()
    return ""


def listings_push(*, tenant: Tenant, client: MercadoLibre) -> dict[str, Any]:
    ids = client.pages(f"/users/{client.user_id}/items/search?status=active", "results")
    products = {p.sku: p for p in Product.objects.filter(tenant=tenant, catalog_version__is_current=True)}
    stock = offer_stock(tenant)
    counts = {"read": 0, "created": 0, "updated": 0, "unchanged": 0, "refused": 0, "refusals": []}
    for start in range(0, len(ids), MULTIGET):
        chunk = ids[start : start + MULTIGET]
        for entry in client.call("GET", f"/items?ids={','.join(chunk)}") or []:
            item = entry.get("body") or {}
            if entry.get("code") != 200 or not item.get("id"):
                continue
            counts["read"] += 1
            sku = client.skus[item["id"]] = _sku(item)
            product = products.get(sku)
            if product is None:
                counts["refused"] += 1
                counts["refusals"].append(
                    {
                        "id": item["id"],
                        "sku": sku,
                        "reason": gettext("Listing %(id)s: SKU '%(sku)s' is not in the catalog.")
                        % {"id": item["id"], "sku": sku},
                    }
                )
                continue
            if item.get("currency_id", "USD") != "USD":
                counts["refused"] += 1
                counts["refusals"].append(
                    {
                        "id": item["id"],
                        "sku": sku,
                        "reason": gettext("Listing %(id)s is in %(currency)s: the catalog prices in USD.")
                        % {"id": item["id"], "currency": item["currency_id"]},
                    }
                )
                continue
            change: dict[str, Any] = {}
            price = offer_price(
                product, price_list=settings.MERCADOLIBRE_PRICE_LIST, markup=settings.MERCADOLIBRE_MARKUP
            )
            if Decimal(str(item.get("price"))) != price:
                change["price"] = float(price)
            if sku in stock and item.get("available_quantity") != stock[sku]:
                change["available_quantity"] = stock[sku]
            if not change:
                counts["unchanged"] += 1
                continue
            try:
                client.call("PUT", f"/items/{item['id']}", json=change)
            except RecordRefused as refused:  # this listing alone: the others go on
                counts["refused"] += 1
                counts["refusals"].append({"id": item["id"], "sku": sku, "reason": str(refused)})
                continue
            counts["updated"] += 1
    return counts


def _answer_text(tenant: Tenant, text: str, *, sku: str) -> str | None:
    """What the catalog agent answers to the question, as the conversation agent reads it, about
    the listing's product unless the question names another; None when it cannot (a person does)."""
    entities = dict(nlu_parse(text=text).get("entities") or {})
    product = Product.objects.filter(tenant=tenant, catalog_version__is_current=True, sku=sku).first()
    if product and not entities.get("family"):
        entities["family"] = product.family
        entities.setdefault("thickness_mm", product.thickness_mm)
    answer = catalog_answer(tenant=tenant, text=text, entities=entities)
    return answer["text"] if answer else None


def _listing_skus(client: MercadoLibre, item_ids: set[str]) -> None:
    """The SKUs of listings the run has not read yet (a question on a paused listing)."""
    missing = sorted(i for i in item_ids if i and i not in client.skus)
    for start in range(0, len(missing), MULTIGET):
        for entry in client.call("GET", f"/items?ids={','.join(missing[start : start + MULTIGET])}") or []:
            item = entry.get("body") or {}
            if entry.get("code") == 200 and item.get("id"):
                client.skus[item["id"]] = _sku(item)


def questions_answer(*, tenant: Tenant, client: MercadoLibre) -> dict[str, Any]:
    pending = client.pages(
        f"/questions/search?seller_id={client.user_id}&status=UNANSWERED&api_version=4&sort_fields=date_created&sort_types=ASC",
        "questions",
    )
    counts = {
        "read": len(pending),
        "created": 0,
        "updated": 0,
        "unchanged": 0,
        "refused": 0,
        "answered": 0,
        "to_staff": 0,
        "refusals": [],
    }
    _listing_skus(client, {str(raw.get("item_id") or "") for raw in pending})
    open_ids = set()
    for raw in pending:
        question_id = str(raw["id"])
        open_ids.add(question_id)
        question, created = MarketQuestion.objects.get_or_create(
            tenant=tenant,
            source=Source.MERCADOLIBRE,
            question_id=question_id,
            defaults={
                "item_id": str(raw.get("item_id") or ""),
                "sku": client.skus.get(str(raw.get("item_id") or ""), ""),
                "text": str(raw.get("text") or "")[:2000],
                "raw": raw,
                "asked_at": raw.get("date_created"),
            },
        )
        counts["created" if created else "unchanged"] += 1
        if question.status in (MarketQuestion.Status.NEW, MarketQuestion.Status.ANSWERING):
            text = question.answer or _answer_text(tenant, question.text, sku=question.sku)
            if not text:
                _to_staff(question)
                counts["to_staff"] += 1
                continue
        elif question.status == MarketQuestion.Status.STAFF and question.answer:
            text = question.answer
        else:
            continue
        refused = question_post(question=question, text=text, client=client)
        if refused:
            counts["refused"] += 1
            counts["refusals"].append({"id": question.question_id, "reason": refused})
        else:
            counts["answered"] += 1
    # no longer pending there: an answer whose reply was lost went through; a question left to
    # staff was answered on MercadoLibre itself, or the buyer deleted it
    settled = MarketQuestion.objects.filter(tenant=tenant, source=Source.MERCADOLIBRE).exclude(question_id__in=open_ids)
    counts["updated"] += settled.filter(status=MarketQuestion.Status.ANSWERING).update(
        status=MarketQuestion.Status.ANSWERED, answered_at=timezone.now()
    )
    counts["updated"] += settled.filter(status=MarketQuestion.Status.STAFF).update(status=MarketQuestion.Status.CLOSED)
    return counts


def question_post(*, question: MarketQuestion, text: str, client: MercadoLibre) -> str | None:
    """The answer posted once: the question is marked as being answered (with its text) before
    the call, and MercadoLibre itself answers a question only once. An answer MercadoLibre
    refuses goes back to staff with the reason (returned), the question still open there, unless
    it turns out answered already (a first post whose reply was lost)."""
    MarketQuestion.objects.filter(pk=question.pk).update(status=MarketQuestion.Status.ANSWERING, answer=text)
    try:
        client.call("POST", "/answers", json={"question_id": int(question.question_id), "text": text[:2000]})
    except RecordRefused as refused:
        there = client.call("GET", f"/questions/{question.question_id}", missing_ok=True) or {}
        if there.get("status") != "ANSWERED":
            reason = str(refused)
            MarketQuestion.objects.filter(pk=question.pk).update(
                status=MarketQuestion.Status.STAFF, error=reason[:2000]
            )
            question.error = reason
            _to_staff(question)
            return reason
        text = (there.get("answer") or {}).get("text") or text
    MarketQuestion.objects.filter(pk=question.pk).update(
        status=MarketQuestion.Status.ANSWERED, answer=text, error="", answered_at=timezone.now()
    )
    return None


def _to_staff(question: MarketQuestion) -> None:
    with transaction.atomic():
        staff_task_open(
            tenant_id=question.tenant_id,
            kind=StaffTask.Kind.MARKET_QUESTION,
            dedupe_key=f"ml-question:{question.question_id}",
            title=(
                gettext("Question on MercadoLibre (%(item)s): %(text)s")
                % {"item": question.item_id, "text": question.text}
            )[:200],
            detail=gettext("Write the answer in %(place)s; it is posted at the next sync.")
            % {"place": admin_place(MarketQuestion)}
            + (
                "\n" + gettext("MercadoLibre refused the previous answer: %(error)s") % {"error": question.error}
                if question.error
                else ""
            ),
        )
        MarketQuestion.objects.filter(pk=question.pk).update(status=MarketQuestion.Status.STAFF)


def orders_pull(*, tenant: Tenant, client: MercadoLibre, cursor: dict[str, Any]) -> dict[str, Any]:
    since = cursor.get("orders_from")
    held_at = None
    path = f"/orders/search?seller={client.user_id}&sort=date_asc"
    if since:
        path += f"&order.date_last_updated.from={quote(since)}"
    orders = client.pages(path, "results")
    counts = {"read": len(orders), "created": 0, "updated": 0, "unchanged": 0, "refused": 0, "refusals": []}
    for raw in orders:
        external_id = str(raw["id"])
        status = raw.get("status")
        if status == "cancelled":
            cancelled = market_order_cancelled(
                tenant=tenant,
                source=Source.MERCADOLIBRE,
                external_id=external_id,
                reason=gettext("Cancelled on MercadoLibre."),
            )
            counts["updated" if cancelled else "unchanged"] += 1
        elif status != "paid":
            counts["unchanged"] += 1  # not paid yet: it comes again when it is
        else:
            lines = [
                MarketLine(
                    sku=str((line.get("item") or {}).get("seller_sku") or (line.get("item") or {}).get("id")),
                    description=str((line.get("item") or {}).get("title") or ""),
                    quantity=Decimal(str(line.get("quantity", 1))),
                    unit_price=Decimal(str(line.get("unit_price", 0))),
                )
                for line in raw.get("order_items") or []
            ]
            try:
                _, created = market_order_record(
                    tenant=tenant,
                    source=Source.MERCADOLIBRE,
                    external_id=external_id,
                    lines=lines,
                    currency=str(raw.get("currency_id") or "USD"),
                    paid=True,
                    buyer=str((raw.get("buyer") or {}).get("nickname") or ""),
                )
            except MarketOrderRefused as refused:
                counts["refused"] += 1
                counts["refusals"].append({"id": external_id, "reason": str(refused)})
                held_at = held_at or raw.get("date_last_updated")  # read again next run, not passed by
                continue
            counts["created" if created else "unchanged"] += 1
        updated = raw.get("date_last_updated")
        if updated and (not since or updated > since):
            since = updated
    cursor["orders_from"] = held_at or since
    return counts


def mercadolibre_run(*, tenant: Tenant, source: SyncSource) -> dict[str, Any]:
    client = MercadoLibre(source)
    cursor = dict(source.cursor)
    # orders first: what sold there is reserved here before the stock left is pushed back
    parts = {"orders": orders_pull(tenant=tenant, client=client, cursor=cursor)}
    parts["listings"] = listings_push(tenant=tenant, client=client)
    parts["questions"] = questions_answer(tenant=tenant, client=client)
    source.cursor = cursor
    parts["api_calls"] = client.calls
    return parts
