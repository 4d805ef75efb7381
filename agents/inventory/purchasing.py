"""Purchase orders: drafted from a stock alert's forecast, approved by a person (the workflow's
approval step), sent to the supplier (n8n, signed like the event deliveries, or e-mail), and the
goods received into stock once."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext

from agents.events import event_emit
from agents.inventory.stock import stock_receive
from agents.outbound import outbound_post, signature_header
from bmc.core.models import Tenant, tenant_get
from bmc.inventory.models import PurchaseOrder, PurchaseOrderLine, Supplier, Warehouse


def purchase_order_draft(
    *, tenant: Tenant, supplier_id: int, sku: str, warehouse: str, quantity: Decimal, forecast: dict, reason: str
) -> PurchaseOrder:
    """The draft for an alert (`reason`), made once however often its step runs."""
    existing = PurchaseOrder.objects.filter(tenant=tenant, reason=reason).first() if reason else None
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            order = PurchaseOrder.objects.create(
                tenant=tenant,
                supplier=tenant_get(Supplier.objects.all(), tenant_id=tenant.pk, pk=supplier_id),
                warehouse=Warehouse.objects.get(tenant=tenant, code=warehouse),
                reason=reason,
                forecast=forecast,
            )
            PurchaseOrderLine.objects.create(purchase_order=order, sku=sku, quantity=quantity)
    except IntegrityError:
        return PurchaseOrder.objects.get(tenant=tenant, reason=reason)
    return order


def purchase_order_data(order: PurchaseOrder) -> dict[str, Any]:
    lines = [{"sku": line.sku, "quantity": str(line.quantity)} for line in order.lines.all()]
    return {
        "purchase_order_id": order.pk,
        "number": order.number,
        "subject": f"purchase_order:{order.pk}",
        "status": order.status,
        "supplier": order.supplier.name,
        "warehouse": order.warehouse.code,
        "lines": lines,
        "title": gettext("Approve purchase %(number)s from %(supplier)s: %(lines)s")
        % {
            "number": order.number,
            "supplier": order.supplier.name,
            "lines": ", ".join(f"{line['quantity']} {line['sku']}" for line in lines),
        },
        "late_title": gettext("%(number)s from %(supplier)s did not arrive in time")
        % {"number": order.number, "supplier": order.supplier.name},
    }


def purchase_order_send(*, order: PurchaseOrder) -> dict[str, Any]:
    """To the supplier's n8n URL (signed, with the order's number as its idempotency key) or by
    e-mail; once: an order sent is not sent again. A receiver that does not answer is retried."""
    if order.status == PurchaseOrder.Status.SENT:
        return {"sent_via": order.sent_via, "already": True}
    if order.status not in (PurchaseOrder.Status.DRAFT, PurchaseOrder.Status.APPROVED):
        return {"sent_via": "", "status": order.status}
    data = purchase_order_data(order)
    supplier = order.supplier
    if supplier.order_url:
        body = json.dumps({"type": "purchase_order", **data}, sort_keys=True).encode()
        headers = {
            "Content-Type": "application/json",
            "X-BMC-Idempotency-Key": f"{order.tenant_id}-{order.number}",
            "X-BMC-Signature": signature_header(secret=supplier.order_secret, body=body),
        }
        response = outbound_post(supplier.order_url, body=body, headers=headers)  # TransientSendError: retried
        if not response.ok:
            raise ValueError(f"{supplier.order_url} refused {order.number}: {response.status_code}")
        via = f"n8n {supplier.order_url}"
    elif supplier.email:
        lines = "\n".join(f"- {line['quantity']} {line['sku']}" for line in data["lines"])
        send_mail(
            subject=f"Orden de compra {order.number} - BMC Uruguay",
            message=f"Hola {supplier.name},\n\nLes pedimos, para entregar en {order.warehouse.name}:\n{lines}\n\n"
            f"Por favor confirmen la fecha de entrega.\n\nBMC Uruguay",
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[supplier.email],
        )
        via = f"e-mail {supplier.email}"
    else:
        raise ValueError(f"{supplier.name} has neither an order URL nor an e-mail: add one in the admin.")
    PurchaseOrder.objects.filter(pk=order.pk).update(
        status=PurchaseOrder.Status.SENT, sent_at=timezone.now(), sent_via=via
    )
    return {"sent_via": via}


def purchase_order_receive(*, order: PurchaseOrder) -> bool:
    """The goods arrived: each line into its warehouse's stock, once; `purchase_order.received`."""
    with transaction.atomic():
        if not PurchaseOrder.objects.filter(
            pk=order.pk, status__in=(PurchaseOrder.Status.SENT, PurchaseOrder.Status.APPROVED)
        ).update(status=PurchaseOrder.Status.RECEIVED, received_at=timezone.now()):
            return False
        for line in order.lines.all():
            stock_receive(
                tenant=order.tenant,
                warehouse=order.warehouse,
                sku=line.sku,
                quantity=line.quantity,
                reference=f"purchase_order:{order.pk}",
                key=f"po:{order.pk}:{line.sku}",
            )
        order.refresh_from_db()
        event_emit(
            tenant=order.tenant,
            type="purchase_order.received",
            subject=f"purchase_order:{order.pk}",
            data=purchase_order_data(order),
        )
    return True


def purchase_order_cancel(*, order: PurchaseOrder) -> bool:
    return bool(
        PurchaseOrder.objects.filter(
            pk=order.pk, status__in=(PurchaseOrder.Status.DRAFT, PurchaseOrder.Status.APPROVED)
        ).update(status=PurchaseOrder.Status.CANCELLED)
    )
