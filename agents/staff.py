"""Tasks for staff: where an agent should stop and a person take over."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from bmc.sales.models import StaffTask


def staff_task_open(*, tenant_id: int, kind: str, dedupe_key: str, title: str, detail: str = "", **links) -> StaffTask:
    """Open a task once per `dedupe_key`: an agent that runs twice finds the first one.
    links: customer_id, conversation_id, quote_id, invoice_id, message_id."""
    existing = StaffTask.objects.filter(tenant_id=tenant_id, dedupe_key=dedupe_key).first()
    if existing:
        return existing
    try:
        with transaction.atomic():
            return StaffTask.objects.create(
                tenant_id=tenant_id, kind=kind, dedupe_key=dedupe_key[:120], title=title[:200], detail=detail, **links
            )
    except IntegrityError:  # opened by a concurrent run a moment ago
        return StaffTask.objects.get(tenant_id=tenant_id, dedupe_key=dedupe_key[:120])
