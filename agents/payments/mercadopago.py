"""Mercado Pago Checkout Pro through its SDK (`mercadopago`): a preference (the payment link) per
order, made once (its idempotency key is the order's), and the payments its notifications tell
of, fetched from its API and handed to their order's workflow once each as `payment.received`.
Whether a payment covers the order is the order agent's check, not this one's. Every request goes
through Mercado Pago's circuit breaker (bmc/breakers.py): while it is open nothing is asked and the
task retries later."""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

import mercadopago
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from mercadopago.config import RequestOptions
from mercadopago.http import HttpClient
from mercadopago.webhook import InvalidWebhookSignatureError, WebhookSignatureValidator

from agents.orders.service import order_payment_record
from agents.outbound import TransientSendError
from bmc.breakers import MERCADOPAGO, BreakerOpen, breaker_guard
from bmc.core.models import Tenant
from bmc.orders.models import Order
from bmc.payments.models import Payment

logger = logging.getLogger(__name__)
PUBLIC_API = "https://api.mercadopago.com"
TIMEOUT = 15


class ProviderUnavailable(TransientSendError):
    """Mercado Pago did not answer, or answered 429/5xx: worth a retry."""


class _ApiAt(HttpClient):
    """The SDK's HTTP client, sent to MERCADOPAGO_API_URL (a sandbox proxy; the tests' local
    server), with a timeout; the SDK has no setting for either."""

    def request(self, method, url, maxretries=None, retry_on=None, backoff_factor=None, **kwargs):
        kwargs.setdefault("timeout", TIMEOUT)
        url = settings.MERCADOPAGO_API_URL.rstrip("/") + url.removeprefix(PUBLIC_API)
        return super().request(
            method, url, maxretries=maxretries, retry_on=retry_on, backoff_factor=backoff_factor, **kwargs
        )


def enabled() -> bool:
    return bool(settings.MERCADOPAGO_ACCESS_TOKEN)


def _sdk() -> mercadopago.SDK:
    return mercadopago.SDK(settings.MERCADOPAGO_ACCESS_TOKEN, http_client=_ApiAt())


def _ask(request: Callable[[mercadopago.SDK], dict[str, Any]], *, what: str) -> dict[str, Any] | None:
    """One request through the SDK and Mercado Pago's breaker: no answer, 429 or 5xx count against
    it; while it is open nothing is asked and ProviderUnavailable says when to try again."""
    try:
        with breaker_guard(MERCADOPAGO, unwell=lambda error: isinstance(error, OSError)):
            try:
                result = request(_sdk())
            except OSError as error:  # no answer at all (requests' ConnectionError, a timeout)
                raise ProviderUnavailable(f"Mercado Pago did not answer: {error}") from error
            return _answer(result, what=what)
    except BreakerOpen as error:
        raise ProviderUnavailable(str(error), retry_after=error.retry_after) from error


def _answer(result: dict[str, Any], *, what: str) -> dict[str, Any] | None:
    """The body of a 2xx answer; None for a 404; ProviderUnavailable for what a retry may mend."""
    status = result.get("status", 0)
    if 200 <= status < 300:
        return result.get("response") or {}
    if status == 404:
        return None
    if status == 429 or status >= 500:
        raise ProviderUnavailable(f"Mercado Pago answered {status} to {what}")
    raise ValueError(f"Mercado Pago refused {what}: {status} {result.get('response')}")


def payment_link_create(*, order: Order) -> dict[str, Any]:
    """The order's payment link (a Checkout Pro preference), made once; none while Mercado Pago
    is not configured (the customer pays by transfer)."""
    if not enabled() or order.status != Order.Status.PENDING_PAYMENT:
        return {"payment_url": order.payment_url or None}
    if order.payment_url:
        return {"payment_url": order.payment_url, "preference_id": order.payment_reference}
    preference = {
        "items": [
            {
                "id": order.number,
                "title": f"Pedido {order.number} - BMC Uruguay",
                "quantity": 1,
                "unit_price": float(order.total),
                "currency_id": order.currency,
            }
        ],
        # notifications come to the webhook set in Mercado Pago's dashboard (its per-preference
        # notification_url is deprecated): <PUBLIC_BASE_URL>/api/v1/webhooks/mercadopago
        "external_reference": f"order:{order.pk}",
        "statement_descriptor": "BMC URUGUAY",
    }
    options = RequestOptions(custom_headers={"x-idempotency-key": f"bmc-{order.tenant_id}-order-{order.pk}"})
    body = _ask(lambda sdk: sdk.preference().create(preference, options), what=f"the preference of {order.number}")
    if body is None or not body.get("init_point"):
        raise ValueError(f"Mercado Pago gave no payment link for {order.number}: {body}")
    Order.objects.filter(pk=order.pk, payment_url="").update(
        payment_url=body["init_point"], payment_reference=str(body.get("id", ""))
    )
    order.refresh_from_db()
    return {"payment_url": order.payment_url, "preference_id": order.payment_reference}


def notification_signature_problem(*, x_signature: str | None, x_request_id: str | None, data_id: str | None) -> str:
    """Why a notification's x-signature does not hold ('' when it does), by the SDK's validator."""
    if not settings.MERCADOPAGO_WEBHOOK_SECRET:
        return "MERCADOPAGO_WEBHOOK_SECRET is not set: no notification can be trusted"
    try:
        WebhookSignatureValidator.validate(x_signature, x_request_id, data_id, settings.MERCADOPAGO_WEBHOOK_SECRET)
    except InvalidWebhookSignatureError as error:
        return f"x-signature does not hold: {error.reason.value}"
    return ""


def payment_notified(*, tenant: Tenant, payment_id: str) -> dict[str, Any]:
    """A payment Mercado Pago told of: fetched from its API (the notification itself proves
    nothing of the amount), kept, and, approved and for an order of this company, handed to the
    order's workflow once. Unknown to Mercado Pago, or for no order here: kept and ignored."""
    body = _ask(lambda sdk: sdk.payment().get(payment_id), what=f"payment {payment_id}")
    if body is None:
        return {"outcome": "ignored", "reason": f"Mercado Pago knows no payment {payment_id}"}
    order = _order_of(tenant=tenant, reference=str(body.get("external_reference") or ""))
    try:
        amount = Decimal(str(body.get("transaction_amount")))
    except InvalidOperation:
        amount = None
    with transaction.atomic():
        payment, _ = Payment.objects.update_or_create(
            tenant=tenant,
            provider=Payment.Provider.MERCADOPAGO,
            external_id=str(payment_id),
            defaults={
                "order": order,
                "status": str(body.get("status") or ""),
                "amount": amount,
                "currency": str(body.get("currency_id") or "")[:3],
                "raw": body,
            },
        )
        if order is None:
            return {"outcome": "ignored", "reason": f"payment {payment_id} is for no order of this company"}
        if payment.status != "approved" or amount is None:
            return {"outcome": "recorded", "status": payment.status}
        if not Payment.objects.filter(pk=payment.pk, applied_at__isnull=True).update(applied_at=timezone.now()):
            return {"outcome": "duplicate", "order_id": order.pk}
        order_payment_record(
            order=order, amount=amount, currency=payment.currency, method="mercadopago", reference=str(payment_id)
        )
    return {"outcome": "applied", "order_id": order.pk}


def _order_of(*, tenant: Tenant, reference: str) -> Order | None:
    kind, _, pk = reference.partition(":")
    if kind != "order" or not pk.isdigit():
        return None
    return Order.objects.filter(tenant=tenant, pk=int(pk)).select_related("tenant").first()
