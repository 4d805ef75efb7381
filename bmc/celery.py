"""The Celery app. Queues, routes and priorities come from bmc.queues through settings."""

from __future__ import annotations

import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bmc.settings")

app = Celery("bmc")
app.config_from_object("django.conf:settings", namespace="CELERY")


@signals.setup_logging.connect
def _configure_logging(**kwargs) -> None:
    """Workers and beat log through Django's LOGGING (JSON lines), not Celery's own format."""
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)
