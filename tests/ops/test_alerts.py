"""Alerts: rules kept as data, raised once, repeated while they hold, resolved when they clear,
told to staff, to n8n and by e-mail, each notice once."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from agents.alerts import alerts_evaluate
from bmc.alerts.models import Alert, AlertNotice, AlertRule
from bmc.conversations.models import Conversation, Customer, Message
from bmc.health import beat_tick_record
from bmc.jobs.models import AgentTask
from bmc.sales.models import StaffTask
from tests.fakes import FakeJsonServer

pytestmark = pytest.mark.django_db


@pytest.fixture
def n8n(settings):
    server = FakeJsonServer(lambda request: (200, {"ok": True}))
    settings.ALERTS_N8N_URL = f"{server.url}/alerts"
    settings.N8N_WEBHOOK_SECRET = "n8n-secret"
    settings.ALERTS_EMAIL_TO = "ops@bmc.com.uy"
    yield server
    server.close()


def only(kind: str, **fields) -> AlertRule:
    """This rule alone enabled (the defaults stay, disabled), told at once unless `for_minutes`."""
    fields.setdefault("for_minutes", 0)
    AlertRule.objects.update(enabled=False)
    rule = AlertRule.objects.filter(kind=kind).first()
    for name, value in fields.items():
        setattr(rule, name, value)
    rule.enabled = True
    rule.save()
    return rule


def test_an_install_starts_with_a_rule_of_every_kind():
    assert set(AlertRule.objects.values_list("kind", flat=True)) == set(AlertRule.Kind.values)


@pytest.mark.worker
def test_a_queue_without_its_worker_is_raised_told_repeated_and_resolved_when_it_comes(
    tenant, n8n, start_worker, transactional_db
):
    rule = only("queue_without_worker", target="quote", for_minutes=0, repeat_minutes=30)
    assert alerts_evaluate()["raised"] == 1
    alert = Alert.objects.get(rule=rule)
    assert alert.state == "open" and alert.subject == "quote"
    assert "No worker consumes the quote queue" in alert.detail or "ningún worker" in alert.detail.lower()
    task = StaffTask.objects.get(kind="alert", status="open")
    assert "Cola sin worker" in task.title and "quote" in task.title
    (told,) = n8n.requests
    assert told["json"]["notice"] == "raised" and told["json"]["subject"] == "quote"
    assert told["headers"]["Idempotency-Key"] == f"alert-{alert.pk}-1"
    assert told["headers"]["X-BMC-Signature"].startswith("sha256=")
    assert len(mail.outbox) == 1 and "Cola sin worker" in mail.outbox[0].subject

    # evaluated again at once: still holds, not due again, nothing told twice
    assert alerts_evaluate() == {"raised": 0, "repeated": 0, "resolved": 0, "rules": 1}
    assert len(n8n.requests) == 1 and len(mail.outbox) == 1
    # half an hour later it is told again (not as a second staff task)
    assert alerts_evaluate(now=timezone.now() + timedelta(minutes=31))["repeated"] == 1
    assert [r["json"]["notice"] for r in n8n.requests] == ["raised", "repeated"]
    assert StaffTask.objects.filter(kind="alert").count() == 1

    start_worker(("quote",))
    assert alerts_evaluate()["resolved"] == 1
    alert.refresh_from_db()
    assert alert.state == "resolved" and alert.resolved_at is not None
    assert n8n.requests[-1]["json"]["notice"] == "resolved"
    assert StaffTask.objects.get(kind="alert").status == "done"
    # raised: staff, n8n, e-mail; repeated: n8n, e-mail; resolved: staff (the task done), n8n, e-mail
    assert AlertNotice.objects.filter(alert=alert, status="sent").count() == 8


def test_a_condition_is_told_only_once_it_has_held_for_its_minutes(tenant, n8n):
    rule = only("beat_silent", threshold=180, for_minutes=2)
    beat_tick_record(at=timezone.now().timestamp() - 600)
    now = timezone.now()
    assert alerts_evaluate(now=now)["raised"] == 0
    assert Alert.objects.get(rule=rule).state == "pending" and not n8n.requests
    beat_tick_record()  # beat came back within the two minutes: nothing was ever told
    alerts_evaluate(now=now + timedelta(minutes=1))
    assert not Alert.objects.exists() and not n8n.requests and not StaffTask.objects.filter(kind="alert").exists()

    beat_tick_record(at=timezone.now().timestamp() - 600)
    assert alerts_evaluate(now=now)["raised"] == 0
    assert alerts_evaluate(now=now + timedelta(minutes=2))["raised"] == 1
    assert [r["json"]["notice"] for r in n8n.requests] == ["raised"]


def test_dead_tasks_raise_once_and_the_notice_rows_keep_it_once(tenant, n8n, transactional_db):
    only("tasks_dead", threshold=1, window_minutes=15)
    AgentTask.objects.create(
        tenant=tenant,
        task_type="quote.calculate",
        agent="quote",
        queue="quote",
        trace_id="t",
        status=AgentTask.Status.DEAD,
        finished_at=timezone.now(),
    )
    results = []
    threads = [threading.Thread(target=lambda: results.append(alerts_evaluate())) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Alert.objects.filter(state="open").count() == 1
    assert len(n8n.requests) == 1, "told more than once by evaluators running at once"


def test_an_agents_failure_rate_counts_only_with_enough_tasks(tenant):
    only("failure_rate", threshold=20, minimum=10)
    now = timezone.now()
    for n in range(4):
        AgentTask.objects.create(
            tenant=tenant, task_type="quote.calculate", agent="quote", queue="quote", trace_id="t",
            status=AgentTask.Status.FAILED if n < 2 else AgentTask.Status.COMPLETED, finished_at=now,
        )  # fmt: skip
    assert alerts_evaluate()["raised"] == 0  # 50 %, but 4 tasks say little
    for _ in range(8):
        AgentTask.objects.create(
            tenant=tenant, task_type="quote.calculate", agent="quote", queue="quote", trace_id="t",
            status=AgentTask.Status.COMPLETED, finished_at=now,
        )  # fmt: skip
    assert alerts_evaluate()["raised"] == 0  # 2 of 12: 16.7 %, under 20 %
    AgentTask.objects.create(
        tenant=tenant, task_type="quote.calculate", agent="quote", queue="quote", trace_id="t",
        status=AgentTask.Status.DEAD, finished_at=now,
    )  # fmt: skip
    assert alerts_evaluate()["raised"] == 1  # 3 of 13: 23 %
    assert Alert.objects.get(state="open").subject == "quote"


def test_a_silent_beat_is_raised_and_resolved_when_it_ticks_again(tenant):
    only("beat_silent", threshold=180)
    beat_tick_record(at=timezone.now().timestamp() - 600)
    assert alerts_evaluate()["raised"] == 1
    assert "600" in Alert.objects.get(state="open").detail.replace(".", "")
    beat_tick_record()
    assert alerts_evaluate()["resolved"] == 1


def _inbound(tenant, when, n: int, phone="+59899100400"):
    customer, _ = Customer.objects.get_or_create(tenant=tenant, phone=phone)
    conversation, _ = Conversation.objects.get_or_create(tenant=tenant, customer=customer)
    for i in range(n):
        message = Message.objects.create(
            tenant=tenant, conversation=conversation, direction="in", channel="n8n", text=f"hola {i}", sent_at=when
        )
        Message.objects.filter(pk=message.pk).update(created_at=when, processed_at=when + timedelta(seconds=2))


def test_inbound_volume_unlike_the_same_hour_of_past_weeks_is_an_anomaly(tenant):
    only("inbound_anomaly", threshold=3, window_minutes=60, minimum=5)
    now = timezone.now()
    for weeks in range(1, 5):
        _inbound(tenant, now - timedelta(weeks=weeks, minutes=30), 10, phone=f"+5989910050{weeks}")
    _inbound(tenant, now - timedelta(minutes=20), 12)
    assert alerts_evaluate()["raised"] == 0  # 12 against 10 usual
    _inbound(tenant, now - timedelta(minutes=10), 30)
    assert alerts_evaluate()["raised"] == 1  # 42 against 10: a loop, or an attack
    assert "42" in Alert.objects.get(state="open").detail


def test_slow_replies_raise_on_the_95th_percentile(tenant):
    only("reply_time_p95", threshold=60, minimum=5)
    now = timezone.now()
    _inbound(tenant, now - timedelta(minutes=5), 19)  # answered in 2 s
    assert alerts_evaluate()["raised"] == 0
    customer = Customer.objects.get(tenant=tenant, phone="+59899100400")
    conversation = Conversation.objects.get(customer=customer)
    for _ in range(3):  # three waiting for ten minutes: a stuck queue
        stuck = Message.objects.create(
            tenant=tenant, conversation=conversation, direction="in", channel="n8n", text="?", sent_at=now
        )
        Message.objects.filter(pk=stuck.pk).update(created_at=now - timedelta(minutes=10))
    assert alerts_evaluate()["raised"] == 1


def test_a_deep_queue_is_raised_and_a_disabled_rule_is_not(tenant, settings):
    from bmc.celery import app
    from tests.conftest import queues_purge

    rule = only("queue_depth", threshold=2, target="analytics")
    for _ in range(3):
        app.send_task("tasks.analytics.ping", queue="analytics")
    try:
        rule.enabled = False
        rule.save()
        assert alerts_evaluate()["rules"] == 0
        rule.enabled = True
        rule.save()
        assert alerts_evaluate()["raised"] == 1
        assert Alert.objects.get(state="open").value >= 3
    finally:
        queues_purge(("analytics",))
    assert alerts_evaluate()["resolved"] == 1


def test_operations_read_open_and_recent_alerts_and_edit_rules(tenant, admin_client):
    only("beat_silent", threshold=180)
    beat_tick_record(at=timezone.now().timestamp() - 600)
    alerts_evaluate()
    page = admin_client.get("/admin/alerts/alert/")
    assert page.status_code == 200
    assert "Beat sin latir" in page.content.decode()
    rule = AlertRule.objects.get(kind="beat_silent")
    edit = admin_client.get(f"/admin/alerts/alertrule/{rule.pk}/change/")
    assert edit.status_code == 200 and "Umbral" in edit.content.decode()
    home = admin_client.get("/admin/operaciones/")
    assert "Alertas abiertas" in home.content.decode() and "Beat nunca" not in home.content.decode()
    assert "Beat sin latir" in home.content.decode()
