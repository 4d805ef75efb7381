"""The rules an install starts with, written once the tables exist (after `migrate`) when there
are none: edited, disabled or added to in the admin (Alert rules). Disable a rule rather than
delete it: with every rule deleted, the next `migrate` writes these again."""

from __future__ import annotations

from bmc.alerts.models import AlertRule

DEFAULT_RULES = [
    # name, kind, threshold, window minutes, minimum, for minutes, repeat minutes
    ("Cola con muchas tareas esperando", "queue_depth", 500, 15, 0, 5, 30),
    ("Cola sin worker", "queue_without_worker", 1, 15, 0, 2, 30),
    ("Tareas muertas", "tasks_dead", 1, 15, 0, 0, 60),
    ("Muchas fallas en un agente", "failure_rate", 20, 15, 10, 0, 60),
    ("Respuesta lenta a clientes (p95)", "reply_time_p95", 60, 15, 5, 5, 30),
    ("Beat sin latir", "beat_silent", 180, 15, 0, 0, 30),
    ("Mensajes a clientes que fallaron", "outbound_failures", 5, 15, 0, 0, 60),
    ("Sincronización que falla", "sync_failing", 3, 15, 0, 0, 240),
    ("Servicio externo caído (circuito abierto)", "breaker_open", 1, 15, 0, 2, 60),
    ("Volumen de mensajes fuera de lo normal", "inbound_anomaly", 3, 60, 20, 0, 120),
]


def alert_rules_default() -> int:
    if AlertRule.objects.exists():
        return 0
    AlertRule.objects.bulk_create(
        AlertRule(
            name=name,
            kind=kind,
            threshold=threshold,
            window_minutes=window,
            minimum=minimum,
            for_minutes=held,
            repeat_minutes=repeat,
        )
        for name, kind, threshold, window, minimum, held, repeat in DEFAULT_RULES
    )
    return len(DEFAULT_RULES)
