"""celery-beat's scheduler: django-celery-beat's database scheduler that records its ticks.

/health/detailed reads the last tick to tell whether beat is alive; schedules stay editable
in the admin (Periodic tasks).
"""

from __future__ import annotations

import time

from django_celery_beat.schedulers import DatabaseScheduler

from bmc.health import beat_tick_record


class TickRecordingScheduler(DatabaseScheduler):
    _last_recorded = 0.0

    def tick(self, *args, **kwargs):
        interval = super().tick(*args, **kwargs)
        now = time.time()
        if now - self._last_recorded >= 5:
            try:
                beat_tick_record(at=now)
                self._last_recorded = now
            except Exception:  # the broker may be down: beat keeps scheduling regardless
                pass
        return interval
