from django.urls import path

from bmc.conversations import api as conversations
from bmc.datasync import api as sync
from bmc.documents import api as documents
from bmc.events import api as events
from bmc.jobs import api as jobs
from bmc.orders import api as orders
from bmc.quotes import api as quotes
from bmc.sales import api as sales
from bmc.workflows import api as workflows

urlpatterns = [
    path("orchestrator/status", jobs.orchestrator_status_view, name="orchestrator-status"),
    path("orchestrator/agents", jobs.agents_view, name="orchestrator-agents"),
    path("orchestrator/agents/<str:agent_id>/health", jobs.agent_health_view, name="orchestrator-agent-health"),
    path("orchestrator/queues", jobs.queues_view, name="orchestrator-queues"),
    path("tasks", jobs.tasks_view, name="tasks"),
    path("tasks/<uuid:task_id>", jobs.task_detail_view, name="task-detail"),
    path("tasks/<uuid:task_id>/cancel", jobs.task_cancel_view, name="task-cancel"),
    path("tasks/<uuid:task_id>/retry", jobs.task_retry_view, name="task-retry"),
    path("tasks/retry", jobs.tasks_retry_view, name="tasks-retry"),
    path("messages", conversations.messages_view, name="messages"),
    path("nlu/parse", conversations.nlu_parse_view, name="nlu-parse"),
    path("conversations", conversations.conversations_view, name="conversations"),
    path("quotes", quotes.quotes_view, name="quotes"),
    path("conversations/<int:conversation_id>", conversations.conversation_detail_view, name="conversation-detail"),
    path("chat/send", conversations.chat_send_view, name="chat-send"),
    path("chat/status", conversations.chat_status_view, name="chat-status"),
    path("chat/process", conversations.chat_process_view, name="chat-process"),
    path("chat/<uuid:task_id>/cancel", conversations.chat_cancel_view, name="chat-cancel"),
    path("quotes/calculate", quotes.quote_calculate_view, name="quote-calculate"),
    path("quotes/<int:quote_id>", quotes.quote_detail_view, name="quote-detail"),
    path("quotes/<int:quote_id>/pdf", quotes.quote_pdf_view, name="quote-pdf"),
    path("followups/policy", sales.followup_policy_view, name="followup-policy"),
    path("analytics/followups", sales.followup_effectiveness_view, name="analytics-followups"),
    path("invoices", sales.invoices_view, name="invoices"),
    path("invoices/<int:invoice_id>/paid", sales.invoice_paid_view, name="invoice-paid"),
    path("staff-tasks", sales.staff_tasks_view, name="staff-tasks"),
    path("documents/batches", documents.batches_view, name="document-batches"),
    path("documents/batches/<int:batch_id>", documents.batch_detail_view, name="document-batch-detail"),
    path("documents/<int:document_id>/file", documents.document_file_view, name="document-file"),
    path("events", events.events_view, name="events"),
    path("orders", orders.orders_view, name="orders"),
    path("orders/<int:order_id>", orders.order_detail_view, name="order-detail"),
    path("workflows/definitions", workflows.definitions_view, name="workflow-definitions"),
    path("workflows/runs", workflows.runs_view, name="workflow-runs"),
    path("workflows/runs/<int:run_id>", workflows.run_detail_view, name="workflow-run-detail"),
    path("workflows/runs/<int:run_id>/events", workflows.run_events_view, name="workflow-run-events"),
    path("workflows/runs/<int:run_id>/cancel", workflows.run_cancel_view, name="workflow-run-cancel"),
    path("sync/<str:source>/run", sync.sync_run_view, name="sync-run"),
    path("sync/runs/<int:run_id>", sync.sync_run_detail_view, name="sync-run-detail"),
    path("documents/<int:document_id>/review", documents.document_review_view, name="document-review"),
]
