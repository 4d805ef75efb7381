"""The jobs layer: what every agent hands work on through. The agent registry and the task types
(registry), the router, the task record's life (records), and submitting, publishing, dispatching
and cancelling tasks (submit). Below the agents: it imports models and the Celery app, never an
agent or a consumer."""
