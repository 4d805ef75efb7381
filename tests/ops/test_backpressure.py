"""Backpressure: a queue over its limit takes no more work that can wait; it is held, said so, and
sent as the queue drains. A company over its messages of the day: WhatsApp's are held, not refused."""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from bmc.health import health_detailed
from bmc.jobs import backpressure
from bmc.jobs.models import AgentTask
from bmc.jobs.submit import tasks_release_held
from tests.conftest import queues_purge

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "whatsapp"


@pytest.fixture(autouse=True)
def fresh_depths():
    backpressure._depths.clear()
    queues_purge(("conversation",))
    yield
    queues_purge(("conversation",))


def depth() -> int:
    return backpressure.queue_depth("conversation", fresh=True)


def post(api, n: int):
    return api.post(
        "/api/v1/messages",
        {
            "channel": "n8n",
            "from": f"+5989920000{n}",
            "text": "precio isodec 100",
            "external_id": f"bp-{n}",
            "sent_at": "2026-11-21T10:00:00-03:00",
        },
        format="json",
    )


def test_a_queue_over_its_limit_holds_new_turns_says_so_and_releases_them_as_it_drains(
    api, settings, django_capture_on_commit_callbacks
):
    settings.QUEUE_LIMITS = {**settings.QUEUE_LIMITS, "conversation": 2}
    with django_capture_on_commit_callbacks(execute=True):
        assert post(api, 1).json()["queued"] is True
        assert post(api, 2).json()["queued"] is True
    assert depth() == 2

    backpressure._depths.clear()
    with django_capture_on_commit_callbacks(execute=True):
        answer = post(api, 3)
    assert answer.status_code == 202
    body = answer.json()
    assert body["held"] is True and body["queued"] is False
    assert "conversation queue is over its limit (2 waiting, limit 2)" in body["detail"]
    task = AgentTask.objects.get(task_id=body["task_id"])
    assert task.status == "held"
    assert depth() == 2  # nothing more piled on the broker

    report = health_detailed()
    assert "queue_over_limit:conversation" in report["degraded"]
    assert report["checks"]["backpressure"]["queues"]["conversation"] == {
        "depth": 2,
        "limit": 2,
        "over": True,
        "held": 1,
    }

    assert tasks_release_held(now=timezone.now()) == {}  # still full
    queues_purge(("conversation",))  # the worker drained it
    assert tasks_release_held(now=timezone.now()) == {"conversation": 1}
    task.refresh_from_db()
    assert task.status == "queued" and task.dispatches == 1
    assert depth() == 1
    assert tasks_release_held(now=timezone.now()) == {}  # released once


def test_whatsapp_over_the_day_quota_is_stored_and_its_turn_held_until_the_quota_starts_again(
    client, tenant, settings, django_capture_on_commit_callbacks
):
    settings.TIER_LIMITS = {**settings.TIER_LIMITS, "basic": {**settings.TIER_LIMITS["basic"], "messages_per_day": 0}}
    settings.WHATSAPP_APP_SECRET = "secret"
    body = (FIXTURES / "text_message.json").read_bytes()
    signature = "sha256=" + hmac.new(b"secret", body, hashlib.sha256).hexdigest()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/api/v1/webhooks/whatsapp", body, content_type="application/json", HTTP_X_HUB_SIGNATURE_256=signature
        )
    assert response.status_code == 200
    turn = AgentTask.objects.get(task_type="conversation.process_message")
    assert turn.status == "held" and turn.metadata["held"]["reason"] == "quota"
    assert turn.held_until > timezone.now()
    assert depth() == 0

    assert tasks_release_held(now=timezone.now()) == {}
    assert tasks_release_held(now=turn.held_until + timedelta(seconds=1)) == {"conversation": 1}
    turn.refresh_from_db()
    assert turn.status == "queued"


def test_the_reaper_leaves_held_work_alone(tenant, settings):
    from bmc.jobs.records import tasks_reap

    settings.QUEUE_LIMITS = {**settings.QUEUE_LIMITS, "conversation": 0}
    from bmc.jobs.submit import task_submit

    task = task_submit(tenant=tenant, task_type="conversation.process_message", payload={})
    assert task.status == "held"
    AgentTask.objects.filter(pk=task.pk).update(created_at=timezone.now() - timedelta(hours=1))
    plan = tasks_reap(
        now=timezone.now(),
        held_by_workers=set(),
        waiting_in_broker=lambda queue: set(),
        queued_deadline=timedelta(seconds=60),
        running_grace=timedelta(seconds=120),
        max_dispatches=3,
    )
    assert str(task.task_id) not in plan.redispatch + plan.dead
