"""A follow-up policy's rules, checked the same way by the admin, the API and the agents.

Import-light (no models): `policy_errors` takes plain values and returns, per field, what is
wrong and what is allowed; `sending_allowed` / `next_allowed` answer "may we write now?" in the
tenant's own time zone.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils.translation import gettext

DEFAULT_STEPS_HOURS = [24, 48, 72]
DEFAULT_QUIET_START = time(21, 0)
DEFAULT_QUIET_END = time(9, 0)
DEFAULT_QUIET_WEEKDAYS = [6]  # Sunday (Monday is 0)
DEFAULT_TIMEZONE = "America/Montevideo"
MAX_STEPS = 10
MIN_SENDING_HOURS_PER_WEEK = 1


def policy_errors(
    *,
    steps_hours: object,
    max_attempts: object,
    quiet_start: time | None,
    quiet_end: time | None,
    quiet_weekdays: object,
    timezone_name: str,
) -> dict[str, str]:
    """Field -> what is wrong and what is allowed. Empty when the policy is sound (in the active
    language: English over the API, Spanish in the admin)."""
    steps_error = _steps_hours_error(steps_hours)
    found = {
        "steps_hours": steps_error,
        # measured against the steps only when they are sound
        "max_attempts": _max_attempts_error(max_attempts, steps=None if steps_error else steps_hours),
        "timezone": _timezone_error(timezone_name),
        "quiet_weekdays": _quiet_weekdays_error(quiet_weekdays),
        "quiet_start": _quiet_hours_error(quiet_start, quiet_end),
    }
    return {field: error for field, error in found.items() if error}


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _steps_hours_error(steps_hours: object) -> str | None:
    steps = steps_hours if isinstance(steps_hours, list) else None
    if not steps or not all(_whole(h) for h in steps):
        return gettext("must be a list of whole hours after the quote is sent, e.g. [24, 48, 72].")
    if any(h <= 0 for h in steps):
        return gettext("%(steps)s: every delay must be a positive number of hours.") % {"steps": steps}
    if any(b <= a for a, b in zip(steps, steps[1:], strict=False)):
        return gettext("%(steps)s: the steps must go in increasing order, each later than the one before.") % {
            "steps": steps
        }
    if len(steps) > MAX_STEPS:
        return gettext("%(count)s steps: at most %(max)s.") % {"count": len(steps), "max": MAX_STEPS}
    return None


def _max_attempts_error(max_attempts: object, *, steps: list[int] | None) -> str | None:
    if not _whole(max_attempts) or max_attempts < 1:
        return gettext("must be a whole number, at least 1.")
    if steps and max_attempts > len(steps):
        return gettext("is %(attempts)s but there are %(steps)s steps: at most %(steps)s.") % {
            "attempts": max_attempts,
            "steps": len(steps),
        }
    return None


def _timezone_error(timezone_name: str) -> str | None:
    try:
        ZoneInfo(timezone_name)
    except (ZoneInfoNotFoundError, ValueError):
        return gettext("'%(name)s' is not a time zone; use an IANA name such as America/Montevideo.") % {
            "name": timezone_name
        }
    return None


def _quiet_weekdays_error(quiet_weekdays: object) -> str | None:
    days = quiet_weekdays if isinstance(quiet_weekdays, list) else None
    if days is None or not all(isinstance(d, int) and 0 <= d <= 6 for d in days):
        return gettext("must be a list of weekdays without sends, 0 (Monday) to 6 (Sunday), e.g. [6].")
    if len(set(days)) == 7:
        return gettext("every day of the week is quiet: that leaves no time to send.")
    return None


def _quiet_hours_error(quiet_start: time | None, quiet_end: time | None) -> str | None:
    if (quiet_start is None) != (quiet_end is None):
        return gettext("give both the start and the end of the quiet hours, or neither.")
    if quiet_start is None:
        return None
    if quiet_start == quiet_end:
        return gettext("quiet from %(start)s to %(end)s covers the whole day: that leaves no time to send.") % {
            "start": f"{quiet_start:%H:%M}",
            "end": f"{quiet_end:%H:%M}",
        }
    if _sending_minutes_per_day(quiet_start, quiet_end) < 60:
        return gettext("quiet from %(start)s to %(end)s leaves less than an hour a day to send.") % {
            "start": f"{quiet_start:%H:%M}",
            "end": f"{quiet_end:%H:%M}",
        }
    return None


def _minutes(value: time) -> int:
    return value.hour * 60 + value.minute


def _sending_minutes_per_day(start: time, end: time) -> int:
    quiet = (_minutes(end) - _minutes(start)) % (24 * 60)
    return 24 * 60 - quiet


def _quiet_at(local: datetime, *, quiet_start: time | None, quiet_end: time | None, quiet_weekdays: Iterable[int]):
    if local.weekday() in set(quiet_weekdays):
        return True
    if quiet_start is None or quiet_end is None:
        return False
    now = _minutes(local.time())
    start, end = _minutes(quiet_start), _minutes(quiet_end)
    if start < end:
        return start <= now < end
    return now >= start or now < end  # the window crosses midnight (21:00-09:00)


def sending_allowed(
    at: datetime, *, timezone_name: str, quiet_start: time | None, quiet_end: time | None, quiet_weekdays
) -> bool:
    local = at.astimezone(ZoneInfo(timezone_name))
    return not _quiet_at(local, quiet_start=quiet_start, quiet_end=quiet_end, quiet_weekdays=quiet_weekdays)


def next_allowed(
    at: datetime, *, timezone_name: str, quiet_start: time | None, quiet_end: time | None, quiet_weekdays
) -> datetime:
    """The first moment at or after `at` when sending is allowed (minute resolution)."""
    zone = ZoneInfo(timezone_name)
    local = at.astimezone(zone)
    rules = dict(quiet_start=quiet_start, quiet_end=quiet_end, quiet_weekdays=quiet_weekdays)
    for _ in range(8 * 24 * 60):
        if not _quiet_at(local, **rules):
            return local
        # jump to the end of the quiet window when we are in it, else to the next day's start
        if local.weekday() in set(quiet_weekdays):
            local = datetime.combine(local.date() + timedelta(days=1), time(0, 0), tzinfo=zone)
        elif quiet_end is not None:
            end = datetime.combine(local.date(), quiet_end, tzinfo=zone)
            local = end if end > local else end + timedelta(days=1)
        else:
            local += timedelta(minutes=1)
    raise ValueError("the policy leaves no time to send")
