"""Alerts: each rule (bmc/alerts, edited in the admin) measured, raised once, repeated while it
holds, resolved when it clears; and told to staff (a staff task), to n8n and by e-mail.

Evaluated by beat's own process every ALERTS_INTERVAL (bmc/beat.py), not by a task on a worker:
"a queue with no worker" must be told even when that worker is the orchestrator. Beat silent is
watched from the other side, by the orchestrator worker (tasks/orchestrator.py). Two evaluators
at once (two beats, the watchdog) take turns on a Redis lock, and each notice is a row claimed
before it is sent: nothing is told twice.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import redis
from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext

from agents.outbound import outbound_post, signature_header
from agents.staff import staff_language, staff_task_open
from bmc.alerts.models import Alert, AlertNotice, AlertRule
from bmc.breakers import breaker_states
from bmc.conversations.models import Message
from bmc.core.models import Tenant
from bmc.datasync.models import SyncSource
from bmc.jobs.models import AgentTask
from bmc.sales.models import StaffTask

logger = logging.getLogger(__name__)

Kind = AlertRule.Kind
LOCK_KEY = "bmc:alerts:evaluating"


@dataclass(frozen=True)
class Reading:
    """One subject of a rule as measured now: its value, whether the rule holds, what to say."""

    subject: str
    value: float
    holds: bool
    detail: str


class NotMeasured(Exception):
    """The measure could not be taken (the broker down for a queue's depth): nothing is raised or
    resolved on it this time."""


# --- the measures -----------------------------------------------------------------------------


def _queue_depth(rule: AlertRule, now: datetime) -> list[Reading]:
    from bmc.health import queue_depths  # the broker, read only when a rule asks

    try:
        depths = queue_depths()
    except Exception as error:
        raise NotMeasured(f"queue depths: {error}") from error
    return [
        Reading(
            queue,
            depth,
            depth >= rule.threshold,
            gettext("%(n)s tasks wait in the %(queue)s queue (alert at %(limit)s).")
            % {"n": depth, "queue": queue, "limit": _n(rule.threshold)},
        )
        for queue, depth in depths.items()
        if depth is not None and _targeted(rule, queue)
    ]


def _queue_without_worker(rule: AlertRule, now: datetime) -> list[Reading]:
    from bmc.health import queue_workers  # one broadcast to the workers, only when a rule asks

    try:
        consumers = queue_workers()
    except Exception as error:
        raise NotMeasured(f"workers: {error}") from error
    return [
        Reading(
            queue,
            len(workers),
            len(workers) < max(rule.threshold, 1),
            gettext("No worker consumes the %(queue)s queue: its work waits.") % {"queue": queue}
            if not workers
            else gettext("%(n)s worker(s) consume the %(queue)s queue.") % {"n": len(workers), "queue": queue},
        )
        for queue, workers in consumers.items()
        if _targeted(rule, queue)
    ]


def _tasks_dead(rule: AlertRule, now: datetime) -> list[Reading]:
    dead = AgentTask.objects.filter(status=AgentTask.Status.DEAD, finished_at__gte=now - _window(rule))
    if rule.target:
        dead = dead.filter(agent=rule.target)
    count = dead.count()
    return [
        Reading(
            rule.target,
            count,
            count >= rule.threshold,
            gettext("%(n)s tasks died in the last %(minutes)s minutes (Agent tasks, status Dead).")
            % {"n": count, "minutes": rule.window_minutes},
        )
    ]


def _failure_rate(rule: AlertRule, now: datetime) -> list[Reading]:
    Status = AgentTask.Status
    finished = AgentTask.objects.filter(
        finished_at__gte=now - _window(rule), status__in=[Status.COMPLETED, Status.FAILED, Status.DEAD]
    )
    if rule.target:
        finished = finished.filter(agent=rule.target)
    rows = finished.values("agent").annotate(
        total=Count("id"), failed=Count("id", filter=Q(status__in=[Status.FAILED, Status.DEAD]))
    )
    readings = []
    for row in rows:
        rate = 100.0 * row["failed"] / row["total"]
        readings.append(
            Reading(
                row["agent"],
                round(rate, 1),
                row["total"] >= rule.minimum and rate >= rule.threshold,
                gettext("%(failed)s of the %(total)s tasks of the %(agent)s agent failed (%(rate)s %%).")
                % {"failed": row["failed"], "total": row["total"], "agent": row["agent"], "rate": _n(rate)},
            )
        )
    return readings


def _reply_time_p95(rule: AlertRule, now: datetime) -> list[Reading]:
    """From a customer's message arriving to the turn that answered it; one still unanswered
    counts with its age, so a stuck queue shows."""
    rows = Message.objects.filter(direction=Message.Direction.INBOUND, created_at__gte=now - _window(rule)).values_list(
        "created_at", "processed_at"
    )[:20_000]
    waits = sorted(((processed or now) - created).total_seconds() for created, processed in rows)
    if not waits:
        return [Reading("", 0, False, gettext("No customer messages in the window."))]
    p95 = waits[min(len(waits) - 1, math.ceil(0.95 * len(waits)) - 1)]
    return [
        Reading(
            "",
            round(p95, 1),
            len(waits) >= rule.minimum and p95 >= rule.threshold,
            gettext("95 %% of the %(n)s messages of the last %(minutes)s minutes were answered within %(p95)s s.")
            % {"n": len(waits), "minutes": rule.window_minutes, "p95": _n(p95)},
        )
    ]


def _beat_silent(rule: AlertRule, now: datetime) -> list[Reading]:
    from bmc.health import beat_tick_last  # beat's tick, in Redis

    try:
        last = beat_tick_last()
    except Exception as error:
        raise NotMeasured(f"beat's tick: {error}") from error
    age = time.time() - last if last else float("inf")
    said = (
        gettext("Beat has not ticked for %(s)s s: no schedule runs (follow-ups, the reaper, syncs).") % {"s": _n(age)}
        if last
        else gettext("Beat has never ticked.")
    )
    return [Reading("", age if math.isfinite(age) else 1e9, age >= rule.threshold, said)]


def _outbound_failures(rule: AlertRule, now: datetime) -> list[Reading]:
    failed = Message.objects.filter(
        direction=Message.Direction.OUTBOUND,
        delivery_status=Message.DeliveryStatus.FAILED,
        created_at__gte=now - _window(rule),
    )
    if rule.target:
        failed = failed.filter(channel=rule.target)
    count = failed.count()
    return [
        Reading(
            rule.target,
            count,
            count >= rule.threshold,
            gettext("%(n)s messages to customers failed in the last %(minutes)s minutes.")
            % {"n": count, "minutes": rule.window_minutes},
        )
    ]


def _sync_failing(rule: AlertRule, now: datetime) -> list[Reading]:
    sources = SyncSource.objects.select_related("tenant")
    if rule.target:
        sources = sources.filter(source=rule.target)
    return [
        Reading(
            f"{source.tenant.slug}:{source.source}",
            source.failures,
            source.failures >= rule.threshold,
            gettext("The %(source)s sync of %(tenant)s failed %(n)s runs in a row: %(error)s")
            % {"source": source.source, "tenant": source.tenant.slug, "n": source.failures, "error": source.last_error},
        )
        for source in sources
    ]


def _breaker_open(rule: AlertRule, now: datetime) -> list[Reading]:
    try:
        states = breaker_states()
    except Exception as error:
        raise NotMeasured(f"breakers: {error}") from error
    return [
        Reading(
            name,
            float(state.get("failures") or 0),
            state.get("state") == "open",
            gettext("%(service)s failed %(n)s times in a row: it is not called until it answers again.")
            % {"service": name, "n": state.get("failures") or 0},
        )
        for name, state in states.items()
        if _targeted(rule, name) and not name.startswith("sync:")  # sources: their own rule
    ]


def _inbound_anomaly(rule: AlertRule, now: datetime) -> list[Reading]:
    """Customers' messages of the last window against the same window of the past four weeks
    (same weekday, same hour): unusually many (a loop, an attack) or few (the hook is down)."""
    window = _window(rule)
    inbound = Message.objects.filter(direction=Message.Direction.INBOUND)
    current = inbound.filter(created_at__gte=now - window, created_at__lt=now).count()
    past = [
        inbound.filter(
            created_at__gte=now - timedelta(weeks=w) - window, created_at__lt=now - timedelta(weeks=w)
        ).count()
        for w in range(1, 5)
    ]
    usual = sum(past) / len(past)
    if usual < max(rule.minimum, 1):
        return [Reading("", 0, False, gettext("Too few messages in past weeks to compare."))]
    ratio = current / usual
    factor = max(rule.threshold, 1.0)
    return [
        Reading(
            "",
            round(ratio, 2),
            ratio >= factor or ratio <= 1 / factor,
            gettext(
                "%(current)s customer messages in the last %(minutes)s minutes; %(usual)s is usual at this hour "
                "of the week (the last four weeks)."
            )
            % {"current": current, "minutes": rule.window_minutes, "usual": _n(usual)},
        )
    ]


MEASURES = {
    Kind.QUEUE_DEPTH: _queue_depth,
    Kind.QUEUE_WITHOUT_WORKER: _queue_without_worker,
    Kind.TASKS_DEAD: _tasks_dead,
    Kind.FAILURE_RATE: _failure_rate,
    Kind.REPLY_TIME_P95: _reply_time_p95,
    Kind.BEAT_SILENT: _beat_silent,
    Kind.OUTBOUND_FAILURES: _outbound_failures,
    Kind.SYNC_FAILING: _sync_failing,
    Kind.BREAKER_OPEN: _breaker_open,
    Kind.INBOUND_ANOMALY: _inbound_anomaly,
}


def _window(rule: AlertRule) -> timedelta:
    return timedelta(minutes=max(rule.window_minutes, 1))


def _targeted(rule: AlertRule, subject: str) -> bool:
    return not rule.target or rule.target == subject


def _n(value: float) -> str:
    return f"{value:,.0f}".replace(",", ".") if value >= 100 else f"{value:.1f}".replace(".", ",")


# --- raising, repeating, resolving --------------------------------------------------------------


def alerts_evaluate(*, now: datetime | None = None, kinds: set[str] | None = None) -> dict[str, int]:
    """Every enabled rule (of `kinds`) measured once; returns how many alerts were raised,
    repeated and resolved. Another evaluator running meanwhile: this one does nothing."""
    now = now or timezone.now()
    lock = _lock()
    if lock is not None and not lock.acquire(blocking=False):
        return {"skipped": 1}
    counts = {"raised": 0, "repeated": 0, "resolved": 0, "rules": 0}
    try:
        rules = AlertRule.objects.filter(enabled=True)
        if kinds:
            rules = rules.filter(kind__in=kinds)
        for rule in rules:
            counts["rules"] += 1
            with staff_language():
                try:
                    readings = MEASURES[rule.kind](rule, now)
                except NotMeasured as error:
                    logger.warning("alert rule not measured", extra={"rule": rule.name, "error": str(error)})
                    continue
                for key, n in _apply(rule, readings, now).items():
                    counts[key] += n
        _notices_send()
    finally:
        if lock is not None:
            try:
                lock.release()
            except redis.RedisError:  # expired meanwhile: the next run takes it
                pass
    return counts


def _lock():
    try:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
        client.ping()
    except redis.RedisError:
        return None  # no Redis: one evaluator is all there can be; the open-once constraint holds anyway
    return client.lock(LOCK_KEY, timeout=max(30, settings.ALERTS_INTERVAL - 5))


def _apply(rule: AlertRule, readings: list[Reading], now: datetime) -> dict[str, int]:
    counts = {"raised": 0, "repeated": 0, "resolved": 0}
    holding = {r.subject: r for r in readings if r.holds}
    measured = {r.subject: r for r in readings}
    for alert in Alert.objects.filter(rule=rule, state__in=[Alert.State.OPEN, Alert.State.PENDING]):
        reading = measured.get(alert.subject)
        if alert.subject in holding:
            continue
        if alert.state == Alert.State.PENDING:  # cleared before it was told: as if it never was
            Alert.objects.filter(pk=alert.pk, state=Alert.State.PENDING).delete()
            continue
        if reading is None and alert.subject and rule.kind in (Kind.SYNC_FAILING, Kind.BREAKER_OPEN):
            reading = Reading(alert.subject, 0, False, gettext("It is no longer there."))
        if reading is None and alert.subject:
            continue  # not measured this time (a queue the broker did not list): left as it is
        if _resolve(alert, reading, now):
            counts["resolved"] += 1
    for reading in holding.values():
        outcome = _raise_or_repeat(rule, reading, now)
        if outcome:
            counts[outcome] += 1
    return counts


def _raise_or_repeat(rule: AlertRule, reading: Reading, now: datetime) -> str | None:
    """First seen: pending, told nothing. Held for the rule's `for_minutes`: raised and told. Then
    told again every `repeat_minutes`."""
    with transaction.atomic():
        alert = (
            Alert.objects.select_for_update()
            .filter(rule=rule, subject=reading.subject, state__in=[Alert.State.OPEN, Alert.State.PENDING])
            .first()
        )
        if alert is None:
            try:
                with transaction.atomic():
                    alert = Alert.objects.create(
                        rule=rule,
                        subject=reading.subject,
                        value=reading.value,
                        detail=reading.detail,
                        state=Alert.State.PENDING,
                        first_seen_at=now,
                        last_seen_at=now,
                    )
            except IntegrityError:  # seen by another evaluator a moment ago
                return None
        if alert.state == Alert.State.PENDING:
            alert.value, alert.detail, alert.last_seen_at = reading.value, reading.detail, now
            if now - alert.first_seen_at < timedelta(minutes=rule.for_minutes):
                alert.save(update_fields=["value", "detail", "last_seen_at"])
                return None  # not held long enough to be told
            alert.state, alert.raised_at, alert.last_notified_at, alert.notices = Alert.State.OPEN, now, now, 1
            alert.save(
                update_fields=["state", "value", "detail", "raised_at", "last_seen_at", "last_notified_at", "notices"]
            )
            _notices_queue(alert, AlertNotice.Kind.RAISED)
            logger.warning(
                "alert raised", extra={"rule": rule.name, "subject": reading.subject, "value": reading.value}
            )
            return "raised"
        alert.value, alert.detail, alert.last_seen_at = reading.value, reading.detail, now
        due = rule.repeat_minutes and now - (alert.last_notified_at or alert.raised_at) >= timedelta(
            minutes=rule.repeat_minutes
        )
        if due:
            alert.last_notified_at, alert.notices = now, alert.notices + 1
        alert.save(update_fields=["value", "detail", "last_seen_at", "last_notified_at", "notices"])
        if due:
            _notices_queue(alert, AlertNotice.Kind.REPEATED)
            return "repeated"
    return None


def _resolve(alert: Alert, reading: Reading | None, now: datetime) -> bool:
    with transaction.atomic():
        resolved = Alert.objects.filter(pk=alert.pk, state=Alert.State.OPEN).update(
            state=Alert.State.RESOLVED,
            resolved_at=now,
            value=reading.value if reading else alert.value,
            detail=reading.detail if reading else alert.detail,
            notices=alert.notices + 1,
        )
        if resolved:
            alert.refresh_from_db()
            _notices_queue(alert, AlertNotice.Kind.RESOLVED)
            logger.info("alert resolved", extra={"rule": alert.rule.name, "subject": alert.subject})
    return bool(resolved)


def _notices_queue(alert: Alert, kind: str) -> None:
    rule = alert.rule
    channels = [
        channel
        for channel, wanted in (
            (AlertNotice.Channel.STAFF, rule.notify_staff and kind != AlertNotice.Kind.REPEATED),
            (AlertNotice.Channel.N8N, rule.notify_n8n and bool(settings.ALERTS_N8N_URL)),
            (AlertNotice.Channel.EMAIL, rule.notify_email and bool(_recipients(rule))),
        )
        if wanted
    ]
    AlertNotice.objects.bulk_create(
        [AlertNotice(alert=alert, sequence=alert.notices, kind=kind, channel=channel) for channel in channels],
        ignore_conflicts=True,
    )


def _recipients(rule: AlertRule) -> list[str]:
    listed = rule.email_to or settings.ALERTS_EMAIL_TO
    return [address.strip() for address in listed.split(",") if address.strip()]


# --- telling ------------------------------------------------------------------------------------


def _notices_send() -> None:
    """Each pending notice claimed (one conditional UPDATE) and then sent: a notice is sent at most
    once; one that fails is marked failed with its error, for the admin."""
    for notice in AlertNotice.objects.filter(status=AlertNotice.Status.PENDING).select_related("alert__rule")[:200]:
        now = timezone.now()
        if not AlertNotice.objects.filter(pk=notice.pk, status=AlertNotice.Status.PENDING).update(
            status=AlertNotice.Status.SENT, sent_at=now
        ):
            continue
        try:
            SENDERS[notice.channel](notice)
        except Exception as error:
            AlertNotice.objects.filter(pk=notice.pk).update(
                status=AlertNotice.Status.FAILED, error=f"{type(error).__name__}: {error}"[:2000]
            )
            logger.warning("alert notice failed", extra={"notice": notice.pk, "error": str(error)})


def _title(notice: AlertNotice) -> str:
    alert = notice.alert
    what = f"{alert.rule.name}: {alert.subject}" if alert.subject else alert.rule.name
    if notice.kind == AlertNotice.Kind.RESOLVED:
        return gettext("Resolved: %(what)s") % {"what": what}
    if notice.kind == AlertNotice.Kind.REPEATED:
        return gettext("Still holds: %(what)s") % {"what": what}
    return gettext("Alert: %(what)s") % {"what": what}


def _send_staff(notice: AlertNotice) -> None:
    alert = notice.alert
    tenant_id = Tenant.objects.filter(slug=settings.DEFAULT_TENANT_SLUG).values_list("pk", flat=True).first()
    if tenant_id is None:
        raise RuntimeError("no default company to give the staff task to (run manage.py bootstrap)")
    key = f"alert-{alert.pk}"
    if notice.kind == AlertNotice.Kind.RESOLVED:
        StaffTask.objects.filter(tenant_id=tenant_id, dedupe_key=key, status=StaffTask.Status.OPEN).update(
            status=StaffTask.Status.DONE
        )
        return
    with staff_language():
        staff_task_open(
            tenant_id=tenant_id, kind=StaffTask.Kind.ALERT, dedupe_key=key, title=_title(notice), detail=alert.detail
        )


def notice_body(notice: AlertNotice) -> dict[str, Any]:
    alert = notice.alert
    return {
        "alert_id": alert.pk,
        "notice": notice.kind,
        "rule": alert.rule.name,
        "kind": alert.rule.kind,
        "subject": alert.subject,
        "state": alert.state,
        "value": alert.value,
        "detail": alert.detail,
        "raised_at": alert.raised_at.isoformat(),
        "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
    }


def _send_n8n(notice: AlertNotice) -> None:
    body = json.dumps(notice_body(notice)).encode()
    response = outbound_post(
        settings.ALERTS_N8N_URL,
        body=body,
        headers={
            "Content-Type": "application/json",
            "X-BMC-Signature": signature_header(secret=settings.N8N_WEBHOOK_SECRET, body=body),
            "Idempotency-Key": f"alert-{notice.alert_id}-{notice.sequence}",
        },
    )
    if not response.ok:
        raise RuntimeError(f"n8n answered {response.status_code}: {response.text[:200]}")


def _send_email(notice: AlertNotice) -> None:
    with staff_language():
        subject = f"[BMC] {_title(notice)}"
        body = "\n\n".join(
            [
                notice.alert.detail,
                gettext("Raised %(when)s; value %(value)s.")
                % {
                    "when": timezone.localtime(notice.alert.raised_at).strftime("%d/%m/%Y %H:%M"),
                    "value": notice.alert.value,
                },
                f"{settings.PUBLIC_BASE_URL.rstrip('/')}/admin/alerts/alert/{notice.alert_id}/change/",
            ]
        )
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, _recipients(notice.alert.rule))


SENDERS = {
    AlertNotice.Channel.STAFF: _send_staff,
    AlertNotice.Channel.N8N: _send_n8n,
    AlertNotice.Channel.EMAIL: _send_email,
}
