"""Dead letters: every attempt's error kept, and failed or dead tasks retried (one, or a filtered
set; over the API and in the admin) with their once-only guarantees intact."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from agents.outbound import outbound_reply_create, outbound_send, outbound_send_submit
from bmc.conversations.models import Conversation, Customer
from bmc.core.services import api_key_create
from bmc.health import broker_waiting_ids
from bmc.jobs import records
from bmc.jobs.models import AgentMessage, AgentTask
from bmc.jobs.submit import task_replay, task_submit
from tasks.outbound import send_message
from tests.conftest import queues_purge
from tests.fakes import FakeJsonServer
from tests.jobs.test_records import reap

Status = AgentTask.Status


@pytest.fixture(autouse=True)
def _empty_queues():
    yield
    queues_purge()


def submitted(tenant, task_type: str = "analytics.task_stats", **payload) -> AgentTask:
    return task_submit(tenant=tenant, task_type=task_type, payload=payload)


def ended(task: AgentTask, status: str = Status.DEAD, error: str = "dead after 3 dispatches: the broker lost it"):
    """The task as the worker's signals or the reaper leave it: failed or dead, with its error."""
    assert records.agent_task_fail(task_id=str(task.task_id), error=error, status=status)
    task.refresh_from_db()
    return task


def claim(task: AgentTask, worker: str, redelivered: bool = False) -> records.Claim:
    return records.agent_task_claim(task_id=str(task.task_id), worker=worker, redelivered=redelivered, max_attempts=10)


def attempt_log(task: AgentTask) -> list[tuple]:
    return list(task.attempt_log.values_list("replay", "attempt", "worker", "outcome", "error"))


@pytest.mark.django_db
def test_every_attempts_error_is_kept_across_retries_loss_and_death(tenant):
    task = submitted(tenant)
    assert claim(task, "w1").attempt == 1
    assert records.agent_task_retrying(task_id=str(task.task_id), attempt=1, reason="ConnectionError: sheets timed out")
    assert claim(task, "w2").attempt == 2
    # w2 dies mid-run: the broker hands the message to w3
    assert claim(task, "w3", redelivered=True).attempt == 3
    # w3 dies too and the reaper, out of dispatches, gives up on it
    AgentTask.objects.filter(pk=task.pk).update(started_at=timezone.now() - timedelta(hours=1), dispatches=3)
    plan = reap(timezone.now())
    assert plan.dead == [str(task.task_id)]
    task.refresh_from_db()
    assert task.status == Status.DEAD and task.error == "dead after 3 dispatches: worker w3 stopped running it"
    assert attempt_log(task) == [
        (0, 1, "w1", "retried", "ConnectionError: sheets timed out"),
        (0, 2, "w2", "lost", "worker w2 stopped running it: the broker delivered it again"),
        (0, 3, "w3", "dead", "dead after 3 dispatches: worker w3 stopped running it"),
    ]
    # a failure is kept too; a success writes no attempt at all (the common path stays as cheap)
    failed = submitted(tenant)
    claim(failed, "w1")
    ended(failed, Status.FAILED, "CatalogError: Missing columns: family")
    assert attempt_log(failed) == [(0, 1, "w1", "failed", "CatalogError: Missing columns: family")]
    done = submitted(tenant)
    claim(done, "w1")
    assert records.agent_task_complete(task_id=str(done.task_id), attempt=1, result={}, processing_time_ms=1)
    assert not done.attempt_log.exists()


@pytest.mark.django_db
def test_a_dead_task_retried_over_the_api_is_queued_anew_once(api, tenant, django_capture_on_commit_callbacks):
    task = submitted(tenant)
    for worker in ("w1", "w2"):
        claim(task, worker, redelivered=True)
    ended(task)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/api/v1/tasks/{task.task_id}/retry")
    assert response.status_code == 202, response.content
    body = response.json()
    assert (body["status"], body["attempts"], body["replays"], body["error"]) == ("queued", 0, 1, "")
    task.refresh_from_db()
    assert (task.status, task.attempts, task.dispatches, task.replays, task.finished_at) == ("queued", 0, 1, 1, None)
    assert str(task.task_id) in broker_waiting_ids("analytics")  # published, after commit
    request = AgentMessage.objects.filter(task=task, type="request").latest("created_at")
    assert (request.from_agent, request.payload) == (
        "api",
        {
            "replay": 1,
            "replayed_by": "api key tests",
            "was": "dead",
            "error": "dead after 3 dispatches: the broker lost it",
        },
    )
    # what it went through before is still there; the next run counts as attempt 1 of replay 1
    assert [row[:2] for row in attempt_log(task)] == [(0, 1), (0, 2)]
    assert claim(task, "w3").attempt == 1

    again = api.post(f"/api/v1/tasks/{task.task_id}/retry")
    assert again.status_code == 409
    assert again.json()["error"]["message"] == "Task is running; only failed or dead tasks can be retried."


@pytest.mark.django_db
def test_another_tenants_task_is_404_and_never_retried(api, tenant, other_tenant):
    theirs = ended(submitted(other_tenant))
    assert api.post(f"/api/v1/tasks/{theirs.task_id}/retry").status_code == 404
    assert api.post("/api/v1/tasks/retry", {}, format="json").json()["replayed"] == 0
    theirs.refresh_from_db()
    assert (theirs.status, theirs.replays) == ("dead", 0)
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_create(tenant=other_tenant, name='x')[1]}")
    assert other.post(f"/api/v1/tasks/{theirs.task_id}/retry").status_code == 202


@pytest.mark.django_db
def test_a_filtered_set_is_retried_oldest_first_within_the_limit(api, tenant, django_capture_on_commit_callbacks):
    now = timezone.now()

    def dead(task_type: str, hours_ago: float, status: str = Status.DEAD) -> AgentTask:
        task = ended(submitted(tenant, task_type), status)
        AgentTask.objects.filter(pk=task.pk).update(finished_at=now - timedelta(hours=hours_ago))
        return task

    outage = [dead("analytics.task_stats", h) for h in (2.5, 2.0, 1.5)]
    failed = dead("analytics.task_stats", 2.2, Status.FAILED)
    other_agent = dead("datasync.catalog_import", 2.0)
    before_the_outage = dead("analytics.task_stats", 30)
    completed = submitted(tenant)
    claim(completed, "w1")
    records.agent_task_complete(task_id=str(completed.task_id), attempt=1, result={}, processing_time_ms=1)

    wanted = {"agent": "analytics", "since": (now - timedelta(hours=3)).isoformat(), "until": now.isoformat()}
    with django_capture_on_commit_callbacks(execute=True):
        first = api.post("/api/v1/tasks/retry", {**wanted, "limit": 2}, format="json")
    assert first.status_code == 202, first.content
    assert first.json() == {
        "replayed": 2,
        "task_ids": [str(outage[0].task_id), str(outage[1].task_id)],
        "remaining": 1,
    }
    with django_capture_on_commit_callbacks(execute=True):
        rest = api.post("/api/v1/tasks/retry", {**wanted, "status": ["dead", "failed"]}, format="json").json()
    assert rest == {"replayed": 2, "task_ids": [str(failed.task_id), str(outage[2].task_id)], "remaining": 0}
    assert broker_waiting_ids("analytics") >= {str(t.task_id) for t in [*outage, failed]}
    statuses = dict(AgentTask.objects.values_list("task_id", "status"))
    assert [statuses[t.task_id] for t in (other_agent, before_the_outage, completed)] == ["dead", "dead", "completed"]

    too_many = api.post("/api/v1/tasks/retry", {"limit": 501, "status": ["completed"]}, format="json")
    assert too_many.status_code == 400
    assert set(too_many.json()["error"]["fields"]) == {"limit", "status"}


@pytest.mark.django_db
def test_the_admin_retries_the_filtered_set_and_shows_every_attempt(admin_client, tenant):
    analytics = [ended(submitted(tenant)) for _ in range(2)]
    failed = ended(submitted(tenant), Status.FAILED, "ValueError: no such sheet")
    other_agent = ended(submitted(tenant, "datasync.catalog_import"))
    stuck = submitted(tenant)
    AgentTask.objects.filter(pk=stuck.pk).update(status=Status.PENDING, dispatches=0)
    changelist = reverse("admin:jobs_agenttask_changelist")

    # the list filtered to the analytics agent, every task of the filter selected ("select all")
    response = admin_client.post(
        changelist + "?agent__exact=analytics",
        {"action": "retry_tasks", "select_across": "1", "index": "0", "_selected_action": [stuck.pk]},
        follow=True,
    )
    assert "Reintentadas: 4 de 4 tareas" in response.content.decode()
    tasks = {t.pk: t for t in AgentTask.objects.all()}
    assert [(tasks[t.pk].status, tasks[t.pk].replays) for t in (*analytics, failed)] == [("queued", 1)] * 3
    assert (tasks[stuck.pk].status, tasks[stuck.pk].replays, tasks[stuck.pk].dispatches) == ("queued", 0, 1)
    assert tasks[other_agent.pk].status == "dead"
    request = AgentMessage.objects.filter(task=failed, from_agent="admin").get()
    assert request.payload["replayed_by"] == "admin" and request.payload["was"] == "failed"

    # its page: the error it failed with, kept in the attempts (the task itself starts afresh)
    page = admin_client.get(reverse("admin:jobs_agenttask_change", args=[failed.pk])).content.decode()
    assert "Intentos que no terminaron bien" in page and "Reintento a mano" in page
    assert "ValueError: no such sheet" in page and "<p>Falló</p>" in page


@pytest.mark.django_db(transaction=True)
def test_two_operators_retrying_at_once_replay_it_once(tenant):
    task = ended(submitted(tenant))
    queues_purge()  # its first message, published when it was submitted
    start = threading.Barrier(2)
    results: list[bool] = []

    def operator(name: str) -> None:
        try:
            copy = AgentTask.objects.get(pk=task.pk)  # each read it dead, on their own page
            start.wait(timeout=10)
            results.append(task_replay(task=copy, requested_by="admin", replayed_by=name))
        finally:
            connection.close()

    threads = [threading.Thread(target=operator, args=(name,)) for name in ("ana", "bruno")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(results) == [False, True]
    task.refresh_from_db()
    assert (task.status, task.replays, task.dispatches) == ("queued", 1, 1)
    assert AgentMessage.objects.filter(task=task, from_agent="admin").count() == 1
    assert str(task.task_id) in broker_waiting_ids("analytics")


def run_in_process(task: AgentTask) -> AgentTask:
    """The worker's part, in this process: the consumer, its signals claiming and completing the
    record as on a worker."""
    send_message.apply(args=[str(task.task_id)], task_id=str(task.task_id))
    task.refresh_from_db()
    return task


@pytest.mark.django_db(transaction=True)
def test_a_replayed_send_runs_and_never_sends_twice(tenant, api, settings):
    provider = FakeJsonServer(lambda request: (200, {"ok": True}))
    settings.OUTBOUND_CHANNEL = "n8n"
    settings.N8N_OUTBOUND_URL = provider.url + "/webhook/bmc"
    settings.N8N_WEBHOOK_SECRET = "s3cret"
    try:
        customer = Customer.objects.create(tenant=tenant, phone="+59894807926", name="Gabriel")
        conversation = Conversation.objects.create(tenant=tenant, customer=customer, channel="whatsapp")
        sent = outbound_reply_create(conversation=conversation, text="Tu cotización", idempotency_key="reply-1")
        unsent = outbound_reply_create(conversation=conversation, text="¿Algo más?", idempotency_key="reply-2")
        sent_task, unsent_task = outbound_send_submit(
            tenant=tenant, message_ids=[sent.pk, unsent.pk], trace_id=None, requested_by="conversation"
        )
        # the first send went out, then its worker died before it could say so, until the task died
        claim(sent_task, "w1")
        assert outbound_send(tenant_id=tenant.pk, message_id=sent.pk) == "sent"
        ended(sent_task, error="dead after 3 dispatches: worker w1 stopped running it")
        ended(unsent_task)  # the second never reached a worker
        assert len(provider.requests) == 1

        for task in (sent_task, unsent_task):
            assert api.post(f"/api/v1/tasks/{task.task_id}/retry").status_code == 202
        sent_task, unsent_task = run_in_process(sent_task), run_in_process(unsent_task)

        assert (sent_task.status, sent_task.result) == ("completed", {"message_id": sent.pk, "status": "sent"})
        assert (unsent_task.status, unsent_task.result) == ("completed", {"message_id": unsent.pk, "status": "sent"})
        # each message reached n8n exactly once: the replay of the one already sent sent nothing
        assert [r["json"]["idempotency_key"] for r in provider.requests] == ["reply-1", "reply-2"]
        # and the replayed work, run again by a late copy of its message, does nothing more
        assert run_in_process(unsent_task).attempts == 1
        assert len(provider.requests) == 2
    finally:
        provider.close()
