"""The task record's transitions and the reaper's decisions, on the real database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from bmc.jobs import records
from bmc.jobs.models import AgentMessage, AgentTask
from bmc.jobs.router import route_task

pytestmark = pytest.mark.django_db
Status = AgentTask.Status


def make_task(tenant, **fields) -> AgentTask:
    task = records.agent_task_create(
        tenant=tenant,
        route=route_task(task_type="analytics.task_stats"),
        task_type="analytics.task_stats",
        payload={},
        priority="normal",
        required_capabilities=[],
        metadata={},
    )
    if fields:
        AgentTask.objects.filter(pk=task.pk).update(**fields)
        task.refresh_from_db()
    return task


def test_claim_complete_and_no_way_back(tenant):
    task = make_task(tenant)
    task_id = str(task.task_id)
    assert records.agent_task_mark_queued(task_id=task_id)
    assert claim(task_id, worker="w1") == records.Claim(tracked=True, run=True, attempt=1)
    assert records.agent_task_complete(task_id=task_id, attempt=1, result={"ok": 1}, processing_time_ms=12)
    task.refresh_from_db()
    assert (task.status, task.attempts, task.dispatches, task.worker, task.processing_time_ms) == (
        "completed",
        1,
        1,
        "w1",
        12,
    )
    # a late duplicate neither restarts, re-queues, fails nor cancels a finished task
    assert claim(task_id, worker="w2", redelivered=True) == records.Claim(tracked=True, run=False)
    assert not records.agent_task_mark_queued(task_id=task_id)
    assert not records.agent_task_fail(task_id=task_id, error="late")
    assert not records.agent_task_cancel(task=task)
    task.refresh_from_db()
    assert (task.status, task.attempts, task.result) == ("completed", 1, {"ok": 1})
    assert list(AgentMessage.objects.filter(task=task).values_list("type", flat=True).order_by("created_at")) == [
        "request",
        "response",
    ]


def test_the_answer_goes_back_to_whoever_asked(tenant):
    asked = make_task(tenant)
    AgentMessage.objects.filter(task=asked).update(from_agent="conversation")
    unasked = make_task(tenant)
    AgentMessage.objects.filter(task=unasked).delete()  # a record made by hand, with no request
    for task in (asked, unasked):
        claim(task.task_id)
        assert records.agent_task_complete(task_id=str(task.task_id), attempt=1, result={}, processing_time_ms=1)
    answer = AgentMessage.objects.get(task=asked, type="response")
    request = AgentMessage.objects.get(task=asked, type="request")
    assert (answer.from_agent, answer.to_agent, answer.reply_to_id) == ("analytics", "conversation", request.pk)
    answer = AgentMessage.objects.get(task=unasked, type="response")
    assert (answer.to_agent, answer.reply_to_id) == ("orchestrator", None)


def claim(task_id, worker="w", redelivered=False, max_attempts=10):
    return records.agent_task_claim(
        task_id=str(task_id), worker=worker, redelivered=redelivered, max_attempts=max_attempts
    )


def test_claim_of_an_untracked_task_runs_it_untracked(db):
    assert claim("5b0e3a8c-0000-4000-8000-000000000000") == records.Claim(tracked=False, run=True)


def test_a_second_copy_never_runs_beside_the_first_but_a_redelivery_does(tenant):
    task = make_task(tenant, status=Status.QUEUED)
    assert claim(task.task_id, worker="w1").run
    assert not claim(task.task_id, worker="w2").run  # a duplicate while w1 runs it
    # w1 died; the broker delivers the message again, flagged as redelivered
    second = claim(task.task_id, worker="w2", redelivered=True)
    assert second.run and second.attempt == 2
    task.refresh_from_db()
    assert (task.status, task.worker, task.attempts) == ("running", "w2", 2)


def test_a_task_that_keeps_losing_its_worker_ends_dead(tenant):
    task = make_task(tenant, status=Status.RUNNING, attempts=3)
    assert claim(task.task_id, redelivered=True, max_attempts=3) == records.Claim(tracked=True, run=False)
    task.refresh_from_db()
    assert task.status == "dead" and "after 3 attempts" in task.error


def test_retry_puts_only_its_own_attempt_back_in_the_queue(tenant):
    task = make_task(tenant, status=Status.RUNNING, attempts=1)
    assert records.agent_task_retrying(task_id=str(task.task_id), attempt=1, reason="timeout talking to Sheets")
    task.refresh_from_db()
    assert task.status == "queued" and "timeout talking to Sheets" in task.error
    # the retry's message went out before the signal: attempt 2 already runs; attempt 1's
    # late signal must not pull it back, or its completion would be lost
    assert claim(task.task_id).attempt == 2
    assert not records.agent_task_retrying(task_id=str(task.task_id), attempt=1, reason="late")
    assert records.agent_task_complete(task_id=str(task.task_id), attempt=2, result={}, processing_time_ms=1)


def test_a_run_the_reaper_took_for_lost_still_completes(tenant):
    task = make_task(tenant, status=Status.QUEUED)
    attempt = claim(task.task_id).attempt
    AgentTask.objects.filter(pk=task.pk).update(status=Status.PENDING)  # reaper: no word from the worker
    assert records.agent_task_complete(
        task_id=str(task.task_id), attempt=attempt, result={"n": 1}, processing_time_ms=5
    )
    assert not claim(task.task_id).run  # the re-dispatched copy skips


def reap(now, held=frozenset(), in_broker=frozenset(), max_dispatches=3, broker_lost=False):
    return records.tasks_reap(
        now=now,
        held_by_workers=set(held),
        waiting_in_broker=lambda queue: set(in_broker),
        queued_deadline=timedelta(minutes=10),
        running_grace=timedelta(minutes=2),
        max_dispatches=max_dispatches,
        broker_lost=broker_lost,
    )


def test_work_the_broker_refused_is_sent_at_the_next_run_not_after_the_deadline(tenant):
    now = timezone.now()
    refused = make_task(tenant, status=Status.PENDING, dispatches=0)  # published while the broker was down
    queued = make_task(tenant, status=Status.QUEUED, queued_at=now - timedelta(minutes=1), dispatches=1)
    plan = reap(now)
    assert plan.redispatch == [str(refused.task_id)]
    assert "broker was down when it was sent" in AgentTask.objects.get(pk=refused.pk).error
    assert AgentTask.objects.get(pk=queued.pk).status == "queued"


def test_a_broker_that_came_back_empty_has_what_waited_in_it_sent_at_once(tenant):
    now = timezone.now()
    lost = make_task(tenant, status=Status.QUEUED, queued_at=now - timedelta(seconds=40), dispatches=1)
    sent_since = make_task(tenant, status=Status.QUEUED, queued_at=now - timedelta(seconds=5), dispatches=1)
    reserved = make_task(tenant, status=Status.QUEUED, queued_at=now - timedelta(seconds=40), dispatches=1)
    running = make_task(tenant, status=Status.RUNNING, started_at=now - timedelta(seconds=40), dispatches=1)
    plan = reap(now, held={str(reserved.task_id)}, in_broker={str(sent_since.task_id)}, broker_lost=True)
    # the broker's queues are gone, but what is in them now or held by a worker is not lost;
    # a running task is its worker's business until the grace period says otherwise
    assert plan.redispatch == [str(lost.task_id)]
    assert [AgentTask.objects.get(pk=t.pk).status for t in (sent_since, reserved, running)] == [
        "queued",
        "queued",
        "running",
    ]


def test_a_restarted_worker_gets_back_what_it_was_running_when_it_died(tenant):
    now = timezone.now()
    mine = make_task(tenant, status=Status.RUNNING, started_at=now, dispatches=1, worker="quote@h", attempts=1)
    others = make_task(tenant, status=Status.RUNNING, started_at=now, dispatches=1, worker="quote@other", attempts=1)
    done = make_task(tenant, status=Status.COMPLETED, dispatches=1, worker="quote@h")
    assert records.tasks_orphaned_by(worker="quote@h", now=now) == [str(mine.task_id)]
    mine.refresh_from_db()
    assert mine.status == "pending" and "worker quote@h restarted" in mine.error
    assert [AgentTask.objects.get(pk=t.pk).status for t in (others, done)] == ["running", "completed"]
    # the new run is a claim like any other, and its old message would find it taken
    assert claim(mine.task_id).run and not claim(mine.task_id).run


def test_reaper_takes_only_what_nothing_will_finish(tenant):
    now = timezone.now()
    fresh = make_task(tenant, status=Status.QUEUED, queued_at=now - timedelta(minutes=1), dispatches=1)
    lost = make_task(tenant, status=Status.QUEUED, queued_at=now - timedelta(minutes=11), dispatches=1)
    backlogged = make_task(tenant, status=Status.QUEUED, queued_at=now - timedelta(minutes=30), dispatches=1)
    retry_later = make_task(tenant, status=Status.QUEUED, queued_at=now - timedelta(minutes=30), dispatches=1)
    never_sent = make_task(tenant, status=Status.PENDING, dispatches=0)
    AgentTask.objects.filter(pk=never_sent.pk).update(created_at=now - timedelta(minutes=11))
    alive = make_task(tenant, status=Status.RUNNING, started_at=now - timedelta(minutes=5), dispatches=1, worker="a@h")
    orphan = make_task(
        tenant, status=Status.RUNNING, started_at=now - timedelta(minutes=5), dispatches=1, worker="dead@h"
    )
    just_started = make_task(tenant, status=Status.RUNNING, started_at=now - timedelta(seconds=30), dispatches=1)
    done = make_task(tenant, status=Status.COMPLETED, queued_at=now - timedelta(hours=1), dispatches=1)

    plan = reap(now, held={str(alive.task_id), str(retry_later.task_id)}, in_broker={str(backlogged.task_id)})

    assert sorted(plan.redispatch) == sorted(str(t.task_id) for t in (lost, never_sent, orphan))
    assert plan.dead == []
    statuses = dict(AgentTask.objects.values_list("task_id", "status"))
    assert (
        statuses[orphan.task_id] == "pending"
        and "dead@h stopped running it" in AgentTask.objects.get(pk=orphan.pk).error
    )
    assert statuses[lost.task_id] == "pending" and "broker lost it" in AgentTask.objects.get(pk=lost.pk).error
    for untouched, status in (
        (fresh, "queued"),
        (backlogged, "queued"),
        (retry_later, "queued"),
        (alive, "running"),
        (just_started, "running"),
        (done, "completed"),
    ):
        assert statuses[untouched.task_id] == status


def test_reaper_marks_dead_what_was_dispatched_too_often(tenant):
    now = timezone.now()
    task = make_task(tenant, status=Status.RUNNING, started_at=now - timedelta(minutes=5), dispatches=3, worker="x@h")
    plan = reap(now)
    assert plan.dead == [str(task.task_id)] and plan.redispatch == []
    task.refresh_from_db()
    assert task.status == "dead" and task.error.startswith("dead after 3 dispatches")
    assert AgentMessage.objects.filter(task=task, type="error").exists()
