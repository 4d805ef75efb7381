from django.urls import path

from bmc.api import quotes, views

urlpatterns = [
    path("orchestrator/status", views.orchestrator_status_view, name="orchestrator-status"),
    path("orchestrator/agents", views.agents_view, name="orchestrator-agents"),
    path("orchestrator/agents/<str:agent_id>/health", views.agent_health_view, name="orchestrator-agent-health"),
    path("orchestrator/queues", views.queues_view, name="orchestrator-queues"),
    path("tasks", views.tasks_view, name="tasks"),
    path("tasks/<uuid:task_id>", views.task_detail_view, name="task-detail"),
    path("tasks/<uuid:task_id>/cancel", views.task_cancel_view, name="task-cancel"),
    path("quotes/calculate", quotes.quote_calculate_view, name="quote-calculate"),
    path("quotes/<int:quote_id>", quotes.quote_detail_view, name="quote-detail"),
]
