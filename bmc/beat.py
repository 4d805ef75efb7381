"""celery-beat's scheduler: django-celery-beat's database scheduler that records its ticks and
notices a broker that came back empty.

/health/detailed reads the last tick to tell whether beat is alive; schedules stay editable
in the admin (Periodic tasks). A Redis broker restarted without persistence has lost every task
that waited in it; the task records still say what was waiting, so the reaper is sent at once to
dispatch them again, instead of waiting out REAPER_QUEUED_DEADLINE. Every ALERTS_INTERVAL it
evaluates the alert rules too, on a thread of its own.
"""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings
from django.db import close_old_connections
from django_celery_beat.schedulers import DatabaseScheduler

from bmc.health import beat_tick_record, broker_epoch_forget, broker_epoch_new
from bmc.queues import Queue

logger = logging.getLogger(__name__)


def _alerts_evaluate() -> None:
    """The alert rules, evaluated here in beat's process rather than by a task: a queue without
    its worker (even the orchestrator's) is still told (agents/alerts.py)."""
    from agents.alerts import alerts_evaluate  # the agents load after Django is set up, in beat only

    close_old_connections()
    try:
        alerts_evaluate()
    except Exception:
        logger.exception("alert rules could not be evaluated")
    finally:
        close_old_connections()


class TickRecordingScheduler(DatabaseScheduler):
    _last_recorded = 0.0
    _last_alerts = 0.0
    _alerts_thread: threading.Thread | None = None

    def tick(self, *args, **kwargs):
        interval = super().tick(*args, **kwargs)
        now = time.time()
        if now - self._last_recorded >= 5:
            try:
                beat_tick_record(at=now)
                self._last_recorded = now
                if broker_epoch_new():
                    self._recover_lost_broker()
            except Exception:  # the broker may be down: beat keeps scheduling regardless
                pass
        if now - self._last_alerts >= settings.ALERTS_INTERVAL and not (
            self._alerts_thread and self._alerts_thread.is_alive()
        ):
            self._last_alerts = now
            # beside the schedule, never in its way: a slow measure (a broadcast to the workers)
            # must not delay a follow-up
            self._alerts_thread = threading.Thread(target=_alerts_evaluate, name="alerts", daemon=True)
            self._alerts_thread.start()
        return interval

    def _recover_lost_broker(self) -> None:
        logger.warning("the broker started empty: the reaper dispatches what waited in it again")
        try:
            self.app.send_task(
                "tasks.orchestrator.reap_tasks",
                kwargs={"broker_lost": True},
                queue=Queue.ORCHESTRATOR.value,
                expires=300,
            )
        except Exception:
            broker_epoch_forget()  # the next tick tries again
            raise
