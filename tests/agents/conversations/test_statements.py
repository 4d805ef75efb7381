"""How many SQL statements the hot paths of a message take: the request that stores it, the
turn that answers it, a task's claim and completion. Each is a budget; a change that adds work
to them has to raise it here, on purpose. (Counted inside the test's transaction: a transaction
of the code shows as a savepoint and its release.)"""

from __future__ import annotations

import pytest
from django.utils import timezone

from agents.conversations.inbound import inbound_message_accept
from agents.conversations.turn import conversation_turn
from agents.tenants import system_bootstrap
from bmc.jobs import records
from bmc.jobs.router import route_task

pytestmark = pytest.mark.django_db

TEXT = "cuanto sale isodec 100 para un techo de 6 x 4,48 con flete a montevideo"


def accept(tenant, phone: str, external_id: str):
    return inbound_message_accept(
        tenant=tenant, channel="n8n", phone=phone, text=TEXT, external_id=external_id, sent_at=timezone.now(), raw={}
    ).message


def test_storing_a_message(tenant, django_assert_max_num_queries):
    # the repeat check, the customer (locked), the customer and the conversation created, the message
    with django_assert_max_num_queries(7):
        accept(tenant, "+59899100001", "s-1")
    # a returning customer: their open conversation found and touched, open follow-ups stopped
    with django_assert_max_num_queries(8):
        accept(tenant, "+59899100001", "s-2")


def test_a_turn_that_sends_a_quote(tenant, django_assert_max_num_queries):
    system_bootstrap()
    message = accept(tenant, "+59899100002", "s-3")
    # the hold, the conversation with its tenant and policy, the messages, the catalog (its
    # products once per process), the row lock (PostgreSQL), the check for newer messages,
    # the message answered, the quote, its lines, its follow-ups, the dialogue with the hold
    # let go, the reply, and the task that sends it with its request message
    with django_assert_max_num_queries(17):
        result = conversation_turn(
            tenant_id=message.tenant_id, conversation_id=message.conversation_id, public_base_url="http://bmc.test"
        )
    assert result.quotes and result.replies


def test_claiming_and_completing_a_task(tenant, django_assert_max_num_queries):
    task = records.agent_task_create(
        tenant=tenant,
        route=route_task(task_type="analytics.task_stats"),
        task_type="analytics.task_stats",
        payload={},
        priority="normal",
        required_capabilities=[],
        metadata={},
        queued=True,
    )
    with django_assert_max_num_queries(2):  # the conditional UPDATE, the record with its tenant
        claim = records.agent_task_claim(task_id=str(task.task_id), worker="w", redelivered=False, max_attempts=5)
    with django_assert_max_num_queries(4):  # its UPDATE and the answer's INSERT, in a transaction
        assert records.agent_task_complete(
            task_id=str(task.task_id), attempt=1, result={}, processing_time_ms=1, task=claim.task
        )
