"""Tenant scope inside the tasks, not only in the views: every registered task type, run by a real
worker for one company with another company's ids, fails as not found and changes nothing of the
other company's."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from agents.conversations.turn import conversation_turn
from agents.inventory.purchasing import purchase_order_draft
from agents.orders.service import order_from_quote
from agents.tenants import system_bootstrap
from agents.workflows.engine import workflow_start
from bmc.conversations.models import Conversation, Customer, InboundPayload, Message
from bmc.core.models import Tenant
from bmc.datasync.models import SyncRun
from bmc.events.models import DomainEvent, EventDelivery, EventSubscription
from bmc.inventory.models import PurchaseOrder, StockLevel, StockMove, Supplier
from bmc.jobs.models import AgentMessage, AgentTask
from bmc.jobs.registry import TASK_TYPES
from bmc.jobs.submit import task_submit
from bmc.orders.models import Order
from bmc.quotes.models import Quote
from bmc.sales.models import DunningNotice, FollowUp, Invoice, StaffTask
from bmc.workflows.models import WorkflowRun, WorkflowStep
from tests.agents.sales.test_followup import REQUEST, write
from tests.conftest import queues_purge, wait_for

PHONE = "+59894807926"

pytestmark = pytest.mark.worker

# What each task type would do to company A's records if it trusted the ids it is given.
SPEC = {"scenario": "roof", "family": "ISODEC_EPS", "thickness_mm": 150, "length_m": 6, "width_m": 4.48}


def payloads(a: dict[str, int]) -> dict[str, dict[str, Any]]:
    with_ids = {
        "conversation.process_message": {"conversation_id": a["conversation"], "message_id": a["unanswered"]},
        "quote.price_options": {
            "conversation_id": a["conversation"],
            "option_group": "opt-intruder",
            "options": [SPEC, {**SPEC, "thickness_mm": 100}],
            "source_message_id": a["unanswered"],
            "answers": [a["unanswered"]],
        },
        "outbound.send_message": {"message_id": a["pending_reply"]},
        "followup.send_followup": {"followup_id": a["followup"]},
        "dunning.send_notice": {"notice_id": a["notice"]},
        "events.publish": {"event_id": a["event"]},
        "events.deliver": {"delivery_id": a["delivery"]},
        "workflows.advance": {"run_id": a["run"]},
        "order.create": {"quote_id": a["quote"], "source": "api"},
        "order.request_payment": {"order_id": a["order"]},
        "order.remind_payment": {"order_id": a["order"]},
        "order.mark_paid": {"order_id": a["order"]},
        "order.paid_follow": {"order_id": a["order"]},
        "order.cancel": {"order_id": a["order"], "reason": "intruder"},
        "inventory.reserve": {"order_id": a["order"]},
        "payment.link": {"order_id": a["order"]},
        "payment.notification": {"payload_id": a["payload"], "payment_id": "1"},
        "inventory.suggest_purchase": {"sku": "CUMBRERA", "warehouse": "planta"},
        "inventory.draft_purchase": {
            "supplier_id": a["supplier"],
            "sku": "CUMBRERA",
            "warehouse": "planta",
            "quantity": 10,
            "forecast": {},
            "reason": "intruder",
        },
        "inventory.send_purchase": {"purchase_order_id": a["purchase_order"]},
        "inventory.cancel_purchase": {"purchase_order_id": a["purchase_order"]},
        "datasync.sync_run": {"run_id": a["sync_run"]},
        "datasync.shopify_order": {"payload_id": a["payload"]},
    }
    return {name: with_ids.get(name, {}) for name in TASK_TYPES} | with_ids


def company_a(tenant: Tenant) -> dict[str, int]:
    """Company A mid-week: a quote sent, its reply not yet sent, a follow-up claimed by the scan,
    a customer's new message not yet answered, and a reminder of an overdue invoice decided."""
    system_bootstrap()
    conversation_id = write(PHONE, REQUEST, timezone.now(), tenant).conversation_id
    turn = conversation_turn(tenant_id=tenant.pk, conversation_id=conversation_id, public_base_url="http://a.test")
    followup = FollowUp.objects.filter(quote_id=turn.quotes[0]).order_by("due_at").first()
    FollowUp.objects.filter(pk=followup.pk).update(status=FollowUp.Status.QUEUED, claimed_at=timezone.now())
    # an order of its other quote (the demo stock could cover it), and a workflow run under way
    other_quote = conversation_turn(
        tenant_id=tenant.pk,
        conversation_id=write(PHONE, "y cuanto sale en 150?", timezone.now(), tenant).conversation_id,
        public_base_url="http://a.test",
    ).quotes[0]
    order = order_from_quote(tenant=tenant, quote_id=other_quote, source="api")
    run = workflow_start(tenant=tenant, name="order_complete", input={"quote_id": other_quote}, trigger="a-run")
    purchase = purchase_order_draft(
        tenant=tenant,
        supplier_id=Supplier.objects.get(tenant=tenant).pk,
        sku="CUMBRERA",
        warehouse="planta",
        quantity=Decimal(30),
        forecast={},
        reason="stock.low:a",
    )
    unanswered = write(PHONE, "y en 150?", timezone.now(), tenant)
    customer = Customer.objects.get(tenant=tenant, phone=PHONE)
    invoice = Invoice.objects.create(
        tenant=tenant,
        customer=customer,
        number="F-1001",
        amount=Decimal("2500.00"),
        issue_date=date.today() - timedelta(days=40),
        due_date=date.today() - timedelta(days=10),
    )
    notice = DunningNotice.objects.create(
        tenant=tenant, invoice=invoice, kind=DunningNotice.Kind.SOFT, local_date=date.today(), days_overdue=10
    )
    event = DomainEvent.objects.create(tenant=tenant, type="quote.accepted", subject="quote:1")
    subscription = EventSubscription.objects.create(tenant=tenant, event_type="*", url="http://a.test/hook", secret="a")
    delivery = EventDelivery.objects.create(tenant=tenant, subscription=subscription, event=event)
    # the turn's own send is not this test's business: its reply stays unsent, as if its task had
    # not run yet
    AgentMessage.objects.filter(tenant=tenant).delete()
    AgentTask.objects.filter(tenant=tenant).delete()
    queues_purge()
    return {
        "conversation": conversation_id,
        "unanswered": unanswered.pk,
        "pending_reply": turn.replies[0],
        "followup": followup.pk,
        "notice": notice.pk,
        "event": event.pk,
        "delivery": delivery.pk,
        "quote": turn.quotes[0],
        "order": order.pk,
        "run": run.pk,
        "payload": InboundPayload.objects.create(tenant=tenant, source="mercadopago", body="{}").pk,
        "supplier": purchase.supplier_id,
        "purchase_order": purchase.pk,
        "sync_run": SyncRun.objects.create(tenant=tenant, source="sheets").pk,
    }


def snapshot(tenant: Tenant) -> dict[str, list[tuple]]:
    """Every record of the company a task could touch, field by field."""
    return {
        model.__name__: sorted(model.objects.filter(tenant=tenant).values_list(), key=lambda row: row[0])
        for model in (
            Conversation,
            Customer,
            Message,
            Quote,
            FollowUp,
            DunningNotice,
            Invoice,
            StaffTask,
            AgentTask,
            DomainEvent,
            EventDelivery,
            Order,
            InboundPayload,
            StockLevel,
            StockMove,
            PurchaseOrder,
            WorkflowRun,
            WorkflowStep,
            SyncRun,
        )  # fmt: skip
    }


def test_no_task_type_acts_on_another_companys_ids(tenant, start_worker):
    a = company_a(tenant)
    intruder = Tenant.objects.create(slug="intruder", name="Another company")
    before = snapshot(tenant)
    start_worker()

    submitted = {
        task_type: task_submit(tenant=intruder, task_type=task_type, payload=payload, requested_by="test")
        for task_type, payload in payloads(a).items()
    }
    assert set(submitted) == set(TASK_TYPES)  # a new task type must be added above

    done = {
        task_type: wait_for(lambda t=task: AgentTask.objects.filter(pk=t.pk, status__in=AgentTask.TERMINAL).first())
        for task_type, task in submitted.items()
    }
    for task_type, payload in payloads(a).items():
        task = done[task_type]
        if payload:
            assert task.status == "failed", (task_type, task.status, task.result)
            assert "not found in this tenant" in task.error, (task_type, task.error)
            assert task.attempts == 1, task_type  # not found is never retried
        else:
            assert task.status == "completed", (task_type, task.error)
    assert snapshot(tenant) == before
    assert not Message.objects.filter(tenant=intruder).exists() and not Quote.objects.filter(tenant=intruder).exists()
