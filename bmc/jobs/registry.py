"""The agent registry and the task types they take. Data only: no Django, no Celery.

Each agent consumes one queue of bmc.queues, and its tasks live in tasks/<queue>.py. A task
type names the Celery task that carries it out; the orchestrator routes by task type first,
then by intent, then by required capabilities, and falls back to itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from bmc.queues import Queue


@dataclass(frozen=True)
class AgentSpec:
    id: str
    name: str
    queue: str
    capabilities: frozenset[str]
    description: str
    intents: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class TaskType:
    """A kind of work. `agent` is None for a generic type that the router sends to whichever
    agent the intent or the required capabilities name; `celery_task` may then hold {agent}."""

    name: str
    agent: str | None
    celery_task: str
    description: str
    idempotent: bool = True
    # Public types may be submitted over the API. The others carry ids of the tenant's own records
    # (a conversation, a message, a follow-up) and are submitted only by the agents themselves.
    public: bool = False


def _agent(queue: Queue, name: str, capabilities: set[str], description: str, intents: Iterable[str] = ()) -> AgentSpec:
    return AgentSpec(
        id=queue.value,
        name=name,
        queue=queue.value,
        capabilities=frozenset(capabilities | {"ping"}),
        description=description,
        intents=frozenset(intents),
    )


AGENTS: dict[str, AgentSpec] = {
    spec.id: spec
    for spec in (
        _agent(
            Queue.ORCHESTRATOR,
            "Orchestrator",
            {"routing", "task_records", "health", "reaping"},
            "Routes work to agents, keeps the task records true and re-dispatches lost tasks.",
        ),
        _agent(
            Queue.CONVERSATION,
            "Conversation",
            {"nlu", "intent", "entities", "dialogue_state"},
            "Reads intent and entities from Spanish messages and keeps the dialogue state.",
            {"greeting", "human_handoff", "complaint", "opt_out", "other"},
        ),
        _agent(
            Queue.QUOTE,
            "Quote",
            {"pricing", "quote_document"},
            "Prices specs deterministically from the catalog and renders the quote document.",
            {"quote_request", "accept_quote", "decline_quote", "postpone"},
        ),
        _agent(
            Queue.OUTBOUND,
            "Outbound",
            {"send_message", "whatsapp", "n8n"},
            "Sends replies through the configured channel, once per idempotency key.",
        ),
        _agent(
            Queue.FOLLOWUP,
            "Follow-up",
            {"followup", "scheduling"},
            "Follows up quotes sent without an answer (24, 48, 72 h by default), at decent hours.",
        ),
        _agent(
            Queue.DUNNING,
            "Dunning",
            {"payment_reminders", "collections"},
            "Chases overdue invoices and records promises to pay.",
            {"payment_notice", "promise_to_pay"},
        ),
        _agent(
            Queue.DATASYNC,
            "Data sync",
            {"catalog_import", "google_sheets", "mercadolibre", "shopify"},
            "Keeps the catalog and the spreadsheets in sync.",
        ),
        _agent(
            Queue.ANALYTICS,
            "Analytics",
            {"task_stats", "conversion", "alerts"},
            "Measures conversion and agent performance and raises alerts.",
            {"order_status"},
        ),
        _agent(
            Queue.DOCUMENTS,
            "Documents",
            {"document_extraction", "ocr", "classification"},
            "Reads batches of invoices, orders and receipts.",
        ),
        _agent(
            Queue.ORDER,
            "Order",
            {"orders", "payment_requests"},
            "Turns accepted quotes into orders and takes them from payment to delivery.",
        ),
        _agent(
            Queue.INVENTORY,
            "Inventory",
            {"stock", "reservations"},
            "Keeps stock per product and warehouse: reserves it for orders, releases and receives it.",
        ),
        _agent(
            Queue.PAYMENT,
            "Payment",
            {"payment_links", "mercadopago"},
            "Makes Mercado Pago payment links for orders and reads its payment notifications.",
        ),
        _agent(
            Queue.CATALOG,
            "Catalog",
            {"product_search", "product_questions"},
            "Answers product questions from the catalog and the stock; finds products by name, typos and all.",
            {"product_info"},
        ),
    )
}

FALLBACK_AGENT = Queue.ORCHESTRATOR.value

TASK_TYPES: dict[str, TaskType] = {
    t.name: t
    for t in (
        TaskType(
            "ping",
            None,
            "tasks.{agent}.ping",
            "Round trip to the agent chosen by intent or required capabilities.",
            public=True,
        ),
        # Every agent answers a ping on its own queue: it proves the queue is consumed.
        *(
            TaskType(
                f"{agent_id}.ping",
                agent_id,
                f"tasks.{agent_id}.ping",
                f"Round trip through the {agent_id} queue.",
                public=True,
            )
            for agent_id in AGENTS
        ),
        TaskType(
            "datasync.catalog_import",
            "datasync",
            "tasks.datasync.catalog_import",
            "Import a catalog CSV (payload: {path} or {csv}); a new version only when it changed.",
            public=True,
        ),
        TaskType(
            "datasync.sync_run",
            "datasync",
            "tasks.datasync.sync_run",
            "Carry out a sync run (payload: {run_id}); started by POST /api/v1/sync/{source}/run or beat.",
        ),
        TaskType(
            "datasync.shopify_order",
            "datasync",
            "tasks.datasync.shopify_order",
            "Apply an order a Shopify webhook delivered (payload: {payload_id}).",
        ),
        TaskType(
            "conversation.process_message",
            "conversation",
            "tasks.conversation.process_message",
            "Answer a conversation's unanswered messages (payload: {conversation_id, message_id}).",
        ),
        TaskType(
            "quote.price_options",
            "quote",
            "tasks.quote.price_options",
            "Price a customer's alternatives in parallel (a chord of quote.price_option) and answer them in one "
            "reply (payload: {conversation_id, option_group, options, source_message_id, answers}).",
        ),
        TaskType(
            "events.publish",
            "orchestrator",
            "tasks.orchestrator.publish_event",
            "Deliver a committed domain event to its subscriptions, once each (payload: {event_id}).",
        ),
        TaskType(
            "events.deliver",
            "orchestrator",
            "tasks.orchestrator.deliver_event",
            "POST one event to one subscription, signed, retried with backoff (payload: {delivery_id}).",
        ),
        TaskType(
            "workflows.advance",
            "orchestrator",
            "tasks.orchestrator.advance_workflow",
            "Take a workflow run as far as it goes now, one step after another (payload: {run_id}).",
        ),
        TaskType(
            "staff.notify",
            "orchestrator",
            "tasks.orchestrator.notify_staff",
            "Open a staff task, once per workflow step (payload: {title, detail}).",
        ),
        TaskType(
            "order.create",
            "order",
            "tasks.order.create_order",
            "The order of an accepted quote, made once (payload: {quote_id, source}).",
        ),
        TaskType(
            "order.request_payment",
            "order",
            "tasks.order.request_payment",
            "Tell the customer the order and how to pay it, once (payload: {order_id}).",
        ),
        TaskType(
            "order.remind_payment",
            "order",
            "tasks.order.remind_payment",
            "Remind the customer of an unpaid order, once (payload: {order_id}).",
        ),
        TaskType(
            "order.mark_paid",
            "order",
            "tasks.order.mark_paid",
            "Apply the order's last payment received: paid when it covers the total (payload: {order_id}).",
        ),
        TaskType(
            "order.paid_follow",
            "order",
            "tasks.order.paid_follow",
            "Thank the customer of a paid order and ask staff to schedule it (payload: {order_id}).",
        ),
        TaskType(
            "order.cancel",
            "order",
            "tasks.order.cancel_order",
            "Cancel an order and release its stock (payload: {order_id, reason}).",
        ),
        TaskType(
            "catalog.search",
            "catalog",
            "tasks.catalog.search",
            "Products of the current catalog closest to a name, typos and all (payload: {query, limit}).",
            public=True,
        ),
        TaskType(
            "catalog.answer",
            "catalog",
            "tasks.catalog.answer",
            "Answer a product question from the catalog and the stock, or say it cannot (payload: {text}).",
            public=True,
        ),
        TaskType(
            "payment.link",
            "payment",
            "tasks.payment.create_link",
            "The order's Mercado Pago payment link, made once (payload: {order_id}).",
        ),
        TaskType(
            "payment.notification",
            "payment",
            "tasks.payment.read_notification",
            "Fetch a payment Mercado Pago notified and hand it to its order once (payload: {payload_id, payment_id}).",
        ),
        TaskType(
            "inventory.reserve",
            "inventory",
            "tasks.inventory.reserve_stock",
            "Reserve an order's stock, all or nothing (payload: {order_id}).",
        ),
        TaskType(
            "inventory.suggest_purchase",
            "inventory",
            "tasks.inventory.suggest_purchase",
            "Forecast a product's demand over its supplier's lead time; the quantity to buy (payload: {sku, warehouse}).",
        ),
        TaskType(
            "inventory.draft_purchase",
            "inventory",
            "tasks.inventory.draft_purchase",
            "Draft a purchase order, once per reason (payload: {supplier_id, sku, warehouse, quantity, forecast, reason}).",
        ),
        TaskType(
            "inventory.send_purchase",
            "inventory",
            "tasks.inventory.send_purchase",
            "Send an approved purchase order to its supplier, once (payload: {purchase_order_id}).",
        ),
        TaskType(
            "inventory.cancel_purchase",
            "inventory",
            "tasks.inventory.cancel_purchase",
            "Cancel a purchase order not sent (payload: {purchase_order_id}).",
        ),
        TaskType(
            "outbound.send_message",
            "outbound",
            "tasks.outbound.send_message",
            "Send a stored outbound message through the configured channel, once (payload: {message_id}).",
        ),
        TaskType(
            "followup.send_followup",
            "followup",
            "tasks.followup.send_followup",
            "Write a due follow-up's message and hand it to the outbound agent (payload: {followup_id}).",
        ),
        TaskType(
            "dunning.send_notice",
            "dunning",
            "tasks.dunning.send_notice",
            "Write an invoice reminder and hand it to the outbound agent (payload: {notice_id}).",
        ),
        TaskType(
            "analytics.task_stats",
            "analytics",
            "tasks.analytics.task_stats",
            "Counts and timings of the tenant's agent tasks (payload: {hours}).",
            public=True,
        ),
    )
}

PUBLIC_TASK_TYPES: tuple[str, ...] = tuple(sorted(name for name, t in TASK_TYPES.items() if t.public))
