"""Follow-ups on real processes: two celery-beat processes and a worker. Nothing goes twice, and
the schedules of every kind live in django-celery-beat's tables (the admin)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from django_celery_beat.models import ClockedSchedule, PeriodicTask

from bmc.conversations.models import Message
from bmc.quotes.models import Quote
from bmc.sales.models import FollowUp, StaffTask
from tests.agents.sales.test_followup import quote_copies, quote_sent
from tests.conftest import ROOT, _test_database_url, wait_for

pytestmark = pytest.mark.worker


def start_beat(**env) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "bmc", "beat", "--loglevel=WARNING", "--max-interval=1"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": _test_database_url(), **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop(*processes: subprocess.Popen) -> None:
    for process in processes:
        os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        process.wait(timeout=30)


@pytest.fixture
def quoted(tenant):
    return quote_sent(tenant, anytime=True)[0]  # the test runs whenever CI does


def test_two_beats_and_a_worker_send_each_due_follow_up_once(start_worker, quoted, tenant):
    """40 customers' quotes due for a follow-up; two beats each trigger a scan every second."""
    copies = quote_copies(quoted, 39)
    FollowUp.objects.all().delete()
    FollowUp.objects.bulk_create(
        FollowUp(
            tenant=tenant,
            quote=quote,
            customer=quoted.customer,
            conversation_id=quoted.conversation_id,
            step=1,
            due_at=timezone.now() - timedelta(minutes=1),
        )
        for quote in [quoted, *copies]
    )
    worker = start_worker(("followup", "outbound"), concurrency=2)
    beats = [start_beat(FOLLOWUP_SCAN_INTERVAL="1"), start_beat(FOLLOWUP_SCAN_INTERVAL="1")]

    def scans() -> int:
        return worker.log.read_text().count("Task tasks.followup.scan_due[")

    try:
        wait_for(lambda: FollowUp.objects.filter(status="sent").count() == 40, timeout=90)
        before = scans()
        wait_for(lambda: scans() >= before + 6, timeout=30)  # both beats keep scanning: nothing more goes
    finally:
        stop(*beats)
    sent = Message.objects.filter(followup__isnull=False)
    assert sent.count() == 40 and set(sent.values_list("delivery_status", flat=True)) == {"sent"}
    from bmc.jobs.models import AgentMessage, AgentTask

    followup_tasks = AgentTask.objects.filter(task_type="followup.send_followup")
    assert followup_tasks.count() == 40
    assert len({t.payload["followup_id"] for t in followup_tasks}) == 40
    sends = AgentMessage.objects.filter(type="request", from_agent="followup", intent="outbound.send_message")
    assert sends.count() == 40


def test_every_kind_of_schedule_is_in_the_admin_and_a_clocked_one_runs_once(start_worker, quoted, tenant):
    # an accepted quote, four days ago, with no order: the proactive scan's work
    Quote.objects.filter(pk=quoted.pk).update(status="accepted", decided_at=timezone.now() - timedelta(days=4))
    clocked = ClockedSchedule.objects.create(clocked_time=timezone.now() + timedelta(seconds=3))
    PeriodicTask.objects.create(
        name="proactive scan, once", task="tasks.followup.proactive_scan", clocked=clocked, one_off=True
    )
    worker = start_worker(("followup",))
    beat = start_beat()

    def runs() -> int:
        return worker.log.read_text().count("Task tasks.followup.proactive_scan[") // 2  # received, succeeded

    try:
        task = wait_for(lambda: StaffTask.objects.filter(kind="order_missing", quote=quoted).first(), timeout=60)
        time.sleep(5)  # beat ticks every second: a one-off that ran again would show up by now
    finally:
        stop(beat)
    assert runs() == 1
    assert "aceptada sin pedido" in task.title
    assert StaffTask.objects.filter(kind="order_missing").count() == 1
    schedules = {p.name: p for p in PeriodicTask.objects.select_related("interval", "crontab", "clocked")}
    assert schedules["followup-scan-due"].interval.every == 60  # interval
    dunning = schedules["dunning-scan-overdue"].crontab  # cron
    assert (dunning.minute, dunning.hour, dunning.day_of_week) == ("0", "10", "mon-sat")
    assert str(dunning.timezone) == "America/Montevideo"
    assert schedules["followup-proactive-daily"].crontab.hour == "9"
    assert schedules["proactive scan, once"].clocked_id == clocked.pk  # clocked
    # on an event: sending the quote scheduled its follow-ups
    assert FollowUp.objects.filter(quote=quoted).count() == 4
