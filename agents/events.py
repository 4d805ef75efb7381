"""Domain events as an outbox: written in the transaction of the change that caused them,
published once it commits (to workflow steps waiting for them, and) delivered to each n8n subscription once, signed like the outbound
channel (docs/workflows.md). A delivery that fails for a reason worth retrying (no answer, 429,
5xx) is retried with backoff by its task; any other answer fails it, and it is said why."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

from django.db import DatabaseError, transaction
from django.db.models import F, Q
from django.utils import timezone

from agents.outbound import TransientSendError, outbound_post, signature_header
from agents.workflows.definitions import DefinitionError
from agents.workflows.engine import (
    StepError,
    WorkflowError,
    resolve,
    workflow_runs_waiting_for,
    workflow_start,
    workflows_advance_submit,
)
from bmc.core.models import Tenant, tenant_get
from bmc.events.models import DomainEvent, EventDelivery, EventSubscription
from bmc.jobs.models import AgentTask
from bmc.jobs.submit import task_submit, task_submit_many

logger = logging.getLogger(__name__)


# An event still unpublished this long after it was written, with no publish task of its own
# waiting or running (the one it had ended failed or dead): beat's scan hands it on again.
PUBLISH_GRACE = timedelta(minutes=1)


# The agents' own subscriptions: an event of this type starts this workflow, once per trigger
# (the key filled in from the event's data), with this input ("$data.x": the event's data).
EVENT_WORKFLOWS: dict[str, tuple[str, str, dict[str, Any]]] = {
    # an accepted quote becomes an order: its stock, its payment, its delivery
    "quote.accepted": ("order_complete", "quote:{quote_id}", {"quote_id": "$data.quote_id", "source": "conversation"}),
    # a product under its threshold: a purchase to approve, for each time it falls under
    "stock.low": (
        "stock_alert",
        "stock-low:{event_id}",
        {"sku": "$data.sku", "warehouse": "$data.warehouse", "reason": "$data.reason"},
    ),
}


class TransientDeliveryError(TransientSendError):
    """The receiver did not answer, or answered 429 or 5xx: worth a retry."""


def event_emit(*, tenant: Tenant, type: str, subject: str, data: dict[str, Any] | None = None) -> DomainEvent:
    """Record an event and its publish task in the caller's transaction: the change, its event and
    the task that publishes it commit together or not at all (the task is sent once it commits,
    and the reaper sends it again if the broker lost it)."""
    event = DomainEvent.objects.create(tenant=tenant, type=type, subject=subject, data=data or {})
    task_submit(tenant=tenant, task_type="events.publish", payload={"event_id": event.pk}, requested_by="events")
    return event


def events_publish(*, tenant_id: int, event_id: int) -> dict[str, Any]:
    """One delivery per active subscription of the event's type, made once however often this
    runs; each handed to its own task."""
    event = tenant_get(DomainEvent.objects.all(), tenant_id=tenant_id, pk=event_id)
    subscriptions = EventSubscription.objects.filter(tenant_id=tenant_id, active=True).filter(
        Q(event_type=event.type) | Q(event_type="*")
    )
    to_send = []
    with transaction.atomic():
        for subscription in subscriptions:
            delivery, _ = EventDelivery.objects.get_or_create(
                subscription=subscription, event=event, defaults={"tenant_id": tenant_id}
            )
            if delivery.status == EventDelivery.Status.PENDING:
                to_send.append(delivery.pk)
        DomainEvent.objects.filter(pk=event.pk, published_at__isnull=True).update(published_at=timezone.now())
        task_submit_many(
            task_type="events.deliver",
            items=[(tenant_id, {"delivery_id": delivery_id}) for delivery_id in to_send],
            requested_by="events",
        )
        _workflows_start(event)
        # workflow steps waiting for it go on
        runs = workflow_runs_waiting_for(event)
        workflows_advance_submit(runs=[(tenant_id, run_id) for run_id in runs], requested_by="events")
    return {"event_id": event.pk, "deliveries": to_send, "runs": runs}


def _workflows_start(event: DomainEvent) -> None:
    if event.type not in EVENT_WORKFLOWS:
        return
    name, trigger, template = EVENT_WORKFLOWS[event.type]
    data = {**event.data, "event_id": event.pk, "reason": f"{event.type}:{event.pk}"}
    try:
        key = trigger.format(**data)
        input = resolve(template, {"data": data})
    except (KeyError, StepError) as missing:
        logger.error("event without what its workflow needs", extra={"event": event.pk, "missing": str(missing)})
        return
    try:
        with transaction.atomic():  # a run that cannot start must not keep the event from its subscribers
            workflow_start(tenant=event.tenant, name=name, input=input, trigger=key, requested_by="events")
    except (WorkflowError, DefinitionError, DatabaseError) as error:
        logger.error("an event's workflow could not start", extra={"event": event.pk, "error": str(error)})


def event_body(event: DomainEvent) -> bytes:
    return json.dumps(
        {
            "id": event.pk,
            "type": event.type,
            "subject": event.subject,
            "data": event.data,
            "created_at": event.created_at.isoformat(),
        },
        sort_keys=True,
    ).encode()


def event_deliver(*, tenant_id: int, delivery_id: int) -> str:
    """POST the event to its subscription, once: a delivery already made is not made again."""
    delivery = tenant_get(
        EventDelivery.objects.select_related("event", "subscription"), tenant_id=tenant_id, pk=delivery_id
    )
    if delivery.status != EventDelivery.Status.PENDING:
        return delivery.status
    EventDelivery.objects.filter(pk=delivery.pk).update(attempts=F("attempts") + 1)
    body = event_body(delivery.event)
    headers = {
        "Content-Type": "application/json",
        "X-BMC-Event-Id": str(delivery.event_id),
        "X-BMC-Event-Type": delivery.event.type,
        "X-BMC-Signature": signature_header(secret=delivery.subscription.secret, body=body),
    }
    try:
        response = outbound_post(delivery.subscription.url, body=body, headers=headers)
    except TransientSendError as exc:
        EventDelivery.objects.filter(pk=delivery.pk).update(last_error=str(exc)[:1000])
        raise TransientDeliveryError(str(exc)) from exc
    if not response.ok:
        EventDelivery.objects.filter(pk=delivery.pk).update(
            status=EventDelivery.Status.FAILED, last_error=f"answered {response.status_code}: {response.text[:300]}"
        )
        logger.warning("event delivery refused", extra={"delivery": delivery.pk, "status": response.status_code})
        return EventDelivery.Status.FAILED
    EventDelivery.objects.filter(pk=delivery.pk).update(
        status=EventDelivery.Status.DELIVERED, delivered_at=timezone.now(), last_error=""
    )
    return EventDelivery.Status.DELIVERED


def events_unpublished_submit(*, older_than: timedelta = PUBLISH_GRACE, limit: int = 500) -> dict[str, Any]:
    """Beat's scan: events committed but still unpublished a while later, handed to events.publish
    again, unless a publish of theirs is already waiting or running (publishing is idempotent, so
    a slow one is still published once)."""
    cutoff = timezone.now() - older_than
    waiting = list(
        DomainEvent.objects.filter(published_at__isnull=True, created_at__lt=cutoff)
        .order_by("id")
        .values_list("pk", "tenant_id")[:limit]
    )
    if not waiting:
        return {"submitted": []}
    under_way = set(
        AgentTask.objects.exclude(status__in=AgentTask.TERMINAL)
        .filter(task_type="events.publish", payload__event_id__in=[pk for pk, _ in waiting])
        .values_list("payload__event_id", flat=True)
    )
    items = [(tenant_id, {"event_id": pk}) for pk, tenant_id in waiting if pk not in under_way]
    task_submit_many(task_type="events.publish", items=items, requested_by="events-scan")
    return {"submitted": [payload["event_id"] for _, payload in items]}
