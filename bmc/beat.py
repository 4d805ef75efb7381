"""celery-beat's scheduler: django-celery-beat's database scheduler that records its ticks and
notices a broker that came back empty.

/health/detailed reads the last tick to tell whether beat is alive; schedules stay editable
in the admin (Periodic tasks). A Redis broker restarted without persistence has lost every task
that waited in it; the task records still say what was waiting, so the reaper is sent at once to
dispatch them again, instead of waiting out REAPER_QUEUED_DEADLINE.
"""

from __future__ import annotations

import logging
import time

from django_celery_beat.schedulers import DatabaseScheduler

from bmc.health import beat_tick_record, broker_epoch_forget, broker_epoch_new
from bmc.queues import Queue

logger = logging.getLogger(__name__)


class TickRecordingScheduler(DatabaseScheduler):
    _last_recorded = 0.0

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
