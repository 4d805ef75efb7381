"""GET /metrics: what an operator's Prometheus reads, summed over the web and the worker processes."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from agents.tenants import system_bootstrap
from bmc.conversations.models import Message
from tests.conftest import wait_for


def samples(client, **headers) -> dict[tuple[str, frozenset], float]:
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    found = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(found, name: str, **labels) -> float:
    """A sample's value, 0 when the series does not exist yet (a counter never incremented)."""
    return found.get((name, frozenset(labels.items())), 0.0)


def test_metrics_are_served_to_this_machine_and_to_the_token_only(client, settings):
    settings.METRICS_TOKEN = "scrape-me"
    assert client.get("/metrics").status_code == 200  # the test client is 127.0.0.1
    refused = client.get("/metrics", REMOTE_ADDR="203.0.113.9")
    assert refused.status_code == 403
    assert "METRICS_ALLOWED_IPS" in refused.json()["error"]["message"]
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    allowed = client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer scrape-me")
    assert allowed.status_code == 200


def test_http_requests_are_counted_by_route_not_by_id(client, db):
    before = samples(client)
    for quote_id in (1, 2, 3):
        client.get(f"/api/v1/quotes/{quote_id}")  # 401: no key
    after = samples(client)
    series = dict(method="GET", route="api/v1/quotes/<int:quote_id>", status="401")
    assert value(after, "http_requests_total", **series) - value(before, "http_requests_total", **series) == 3
    assert not any("quotes/1" in str(labels) for _, labels in after)


def test_queue_depths_are_read_when_scraped(client, db):
    from bmc.celery import app

    app.send_task("tasks.analytics.ping", queue="analytics")  # no worker: it waits
    try:
        found = samples(client)
        assert value(found, "celery_queue_depth", queue="analytics") >= 1
        assert (("celery_queue_depth", frozenset({"queue": "conversation"}.items()))) in found
    finally:
        from tests.conftest import queues_purge

        queues_purge(("analytics",))


@pytest.mark.worker
def test_a_message_answered_by_the_workers_shows_in_the_web_metrics(api, client, tenant, start_worker):
    system_bootstrap()
    before = samples(client)
    start_worker(("conversation", "outbound", "quote"), concurrency=1)
    accepted = api.post(
        "/api/v1/messages",
        {
            "channel": "n8n",
            "from": "+59899100200",
            "text": "hola, precio de isodec 100?",
            "external_id": "m-1",
            "sent_at": "2026-11-21T10:00:00-03:00",
        },
        format="json",
    ).json()
    wait_for(
        lambda: Message.objects.filter(
            conversation_id=accepted["conversation_id"], direction="out", delivery_status="sent"
        ).exists()
    )

    def counted():
        found = samples(client)
        delta = {
            "request": value(
                found, "agent_messages_total", from_agent="inbound", to_agent="conversation", message_type="request"
            )
            - value(
                before, "agent_messages_total", from_agent="inbound", to_agent="conversation", message_type="request"
            ),
            "response": value(
                found, "agent_messages_total", from_agent="conversation", to_agent="inbound", message_type="response"
            )
            - value(
                before, "agent_messages_total", from_agent="conversation", to_agent="inbound", message_type="response"
            ),
            "sent": value(found, "outbound_messages_total", channel="n8n", origin="reply", outcome="sent")
            + value(found, "outbound_messages_total", channel="log", origin="reply", outcome="sent")
            - value(before, "outbound_messages_total", channel="n8n", origin="reply", outcome="sent")
            - value(before, "outbound_messages_total", channel="log", origin="reply", outcome="sent"),
            "latency": value(
                found,
                "agent_message_latency_seconds_count",
                agent="conversation",
                intent="conversation.process_message",
            )
            - value(
                before,
                "agent_message_latency_seconds_count",
                agent="conversation",
                intent="conversation.process_message",
            ),
            "completed": value(found, "agent_tasks_total", agent="conversation", outcome="completed")
            - value(before, "agent_tasks_total", agent="conversation", outcome="completed"),
            "inbound": value(found, "inbound_messages_total", channel="n8n")
            - value(before, "inbound_messages_total", channel="n8n"),
        }
        return delta if all(v >= 1 for v in delta.values()) else None

    assert wait_for(counted, timeout=10)


def test_a_worker_machine_serves_its_own_processes_metrics(tmp_path):
    """`python -m bmc.metrics --port`: a machine without a web process is scraped all the same."""
    import os
    import socket
    import subprocess
    import sys
    import urllib.request

    from bmc.metrics import TASK_OUTCOMES

    TASK_OUTCOMES.labels("quote", "completed").inc()  # this process's files, in the shared directory
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "bmc.metrics", "--port", str(port), "--address", "127.0.0.1"], env=dict(os.environ)
    )
    try:

        def scraped():
            try:
                return urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=1).read().decode()
            except OSError:
                return None

        text = wait_for(scraped, timeout=20)
        assert 'agent_tasks_total{agent="quote",outcome="completed"}' in text
    finally:
        server.terminate()
        server.wait(timeout=10)
