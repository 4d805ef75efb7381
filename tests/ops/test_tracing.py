"""Traces: a customer's message is one trace, from the API's request through every task it causes to
the send that answers it, and the trace id in its logs and task records is that trace's. With
tracing off nothing is installed and nothing is traced.

The web side runs in this process with an in-memory exporter; the tasks run in a real worker
(tracing set up as in production, on `worker_process_init`) that exports over OTLP/HTTP to a
receiver of the test's own (scripts/traces.py), so the context crosses Redis as it does in
production."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connections
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agents.tenants import system_bootstrap
from bmc.jobs.models import AgentMessage, AgentTask
from bmc.tracing import tracing_instrument, tracing_uninstrument
from scripts.traces import KINDS, OtlpReceiver, tree_lines
from tasks.outbound import ping
from tests.conftest import ROOT, wait_for
from tests.fakes import FakeJsonServer

ALTERNATIVES = "cotizame isodec para techo de 6 x 4,48 con flete a montevideo en 100 y en 150"
TASKS = (
    "tasks.conversation.process_message",
    "tasks.quote.price_options",
    "tasks.quote.price_option",
    "tasks.conversation.reply_options",
    "tasks.outbound.send_message",
)


def post_message(api, external_id: str, **headers: str):
    return api.post(
        "/api/v1/messages",
        {
            "channel": "n8n",
            "from": "+59899000006",
            "text": ALTERNATIVES,
            "external_id": external_id,
            "sent_at": "2026-11-21T10:00:00-03:00",
        },
        format="json",
        **headers,
    )


def as_dict(span: ReadableSpan) -> dict[str, Any]:
    """An in-memory span in the receiver's shape (scripts/traces.py)."""
    parent = span.parent
    return {
        "trace_id": format(span.context.trace_id, "032x"),
        "span_id": format(span.context.span_id, "016x"),
        "parent_id": format(parent.span_id, "016x") if parent else "",
        "name": span.name,
        "kind": KINDS[span.kind.value + 1],
        "start_ns": span.start_time,
        "end_ns": span.end_time,
        "error": not span.status.is_ok,
        "attributes": dict(span.attributes or {}),
        "service": span.resource.attributes.get("service.name", ""),
        "process": span.resource.attributes.get("bmc.process", ""),
    }


@pytest.fixture
def traced_here(transactional_db, api) -> Iterator[InMemorySpanExporter]:
    """This process traced into memory from here on (the API key and the catalog made before); on
    real commits, since its connections are closed to be opened again traced."""
    system_bootstrap()
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "bmc-agents", "bmc.process": "web"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing_instrument(provider=provider)
    connections.close_all()  # opened before psycopg was instrumented: the next ones are traced
    try:
        yield exporter
    finally:
        tracing_uninstrument()
        connections.close_all()
        provider.shutdown()


def is_complete(spans: list[dict[str, Any]]) -> bool:
    ids = {s["span_id"] for s in spans}
    names = {s["name"] for s in spans}
    return all(f"run/{name}" in names for name in TASKS) and all(
        not s["parent_id"] or s["parent_id"] in ids for s in spans
    )


@pytest.mark.worker
def test_a_message_is_one_trace_from_its_request_to_the_send_of_its_reply(traced_here, api, start_worker, monkeypatch):
    receiver = OtlpReceiver()
    n8n = FakeJsonServer(lambda request: (200, {"ok": True}))
    try:
        for name, value in {
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
            "OTEL_BSP_SCHEDULE_DELAY": "50",  # milliseconds: the worker exports as soon as it can
            "OUTBOUND_CHANNEL": "n8n",
            "N8N_OUTBOUND_URL": n8n.url + "/webhook/bmc",
            "N8N_WEBHOOK_SECRET": "s3cret",
        }.items():
            monkeypatch.setenv(name, value)
        worker = start_worker(("conversation", "quote", "outbound"))

        response = post_message(api, "n8n-traced")
        assert response.status_code == 202, response.content
        web = [as_dict(s) for s in traced_here.get_finished_spans()]
        wait_for(lambda: is_complete(web + receiver.received()), timeout=30)
        spans = web + receiver.received()
    finally:
        receiver.close()
        n8n.close()
    tree = "\n".join(tree_lines(spans))

    # one trace, whose id the API answered, and one root: the request
    (trace_id,) = {s["trace_id"] for s in spans}
    assert response["X-Trace-Id"] == trace_id
    ids = {s["span_id"]: s for s in spans}
    roots = [s for s in spans if not s["parent_id"]]
    assert [(r["name"], r["kind"], r["process"]) for r in roots] == [("POST api/v1/messages", "server", "web")], tree
    assert all(s["parent_id"] in ids for s in spans if s["parent_id"]), tree

    # each task published and run, the run a child of its publish: the same task id, one chain of
    # parents back to the request, through the tasks that caused it
    def ancestors(span: dict[str, Any]) -> list[str]:
        names = []
        while span["parent_id"]:
            span = ids[span["parent_id"]]
            names.append(span["name"])
        return names

    for name in TASKS:
        runs = [s for s in spans if s["name"] == f"run/{name}"]
        assert runs and all(r["kind"] == "consumer" and r["process"].startswith("worker:") for r in runs), tree
        for run in runs:
            publish = ids[run["parent_id"]]
            assert publish["name"] == f"apply_async/{name}" and publish["kind"] == "producer", tree
            assert publish["attributes"]["messaging.message.id"] == run["attributes"]["messaging.message.id"]
    (send,) = [s for s in spans if s["name"] == "run/tasks.outbound.send_message"]
    assert ancestors(send) == [
        "apply_async/tasks.outbound.send_message",
        "run/tasks.conversation.reply_options",  # the chord's callback, sent by its last part
        "apply_async/tasks.conversation.reply_options",
        "run/tasks.quote.price_option",
        "apply_async/tasks.quote.price_option",
        "run/tasks.quote.price_options",
        "apply_async/tasks.quote.price_options",
        "run/tasks.conversation.process_message",
        "apply_async/tasks.conversation.process_message",  # after the request's commit
        "POST api/v1/messages",
    ], tree

    # the SQL statements, in the web and in the worker, each under a span of its own process
    sql = [s for s in spans if s["attributes"].get("db.system") == "postgresql"]
    assert {s["process"] for s in sql} == {"web", "worker:conversation,outbound,quote"}, tree
    assert all(ids[s["parent_id"]]["process"] == s["process"] for s in sql)
    assert any("INSERT" in str(s["attributes"].get("db.statement", "")) for s in sql if s["process"] == "web")

    # the send to n8n: a client span under the send's task, its traceparent on the request
    (post,) = [s for s in spans if s["kind"] == "client" and s["name"] == "POST"]
    assert "run/tasks.outbound.send_message" in ancestors(post), tree
    assert str(post["attributes"].get("http.url", post["attributes"].get("url.full"))).startswith(n8n.url)
    (sent,) = n8n.requests
    assert sent["headers"]["traceparent"].split("-")[1:3] == [trace_id, post["span_id"]]

    # the records and the logs go by the same trace id
    tasks = list(AgentTask.objects.all())
    assert {t.task_type for t in tasks} >= {"conversation.process_message", "outbound.send_message"}
    assert {t.trace_id for t in tasks} == {trace_id}
    assert {m.trace_id for m in AgentMessage.objects.all()} == {trace_id}
    assert {m.span_id for m in AgentMessage.objects.all()} <= set(ids)
    logged = [json.loads(line) for line in worker.log.read_text().splitlines() if line.startswith("{")]
    send_task = next(t for t in tasks if t.task_type == "outbound.send_message")
    assert any(line.get("task_id") == str(send_task.task_id) and line["trace_id"] == trace_id for line in logged)


@pytest.mark.django_db(transaction=True)
def test_a_callers_traceparent_continues_the_callers_trace_and_an_x_trace_id_is_kept(traced_here, api):
    caller_trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    continued = post_message(api, "n8n-parent", HTTP_TRACEPARENT=f"00-{caller_trace}-00f067aa0ba902b7-01")
    assert continued.status_code == 202 and continued["X-Trace-Id"] == caller_trace
    assert AgentTask.objects.get(task_id=continued.json()["task_id"]).trace_id == caller_trace
    request_span = next(s for s in traced_here.get_finished_spans() if s.name == "POST api/v1/messages")
    assert format(request_span.parent.span_id, "016x") == "00f067aa0ba902b7"

    # n8n's own run id, without a traceparent: the logs and records keep it, the span carries it
    traced_here.clear()
    kept = post_message(api, "n8n-own", HTTP_X_TRACE_ID="n8n-run-42")
    assert kept["X-Trace-Id"] == "n8n-run-42"
    assert AgentTask.objects.get(task_id=kept.json()["task_id"]).trace_id == "n8n-run-42"
    request_span = next(s for s in traced_here.get_finished_spans() if s.name == "POST api/v1/messages")
    assert request_span.attributes["bmc.trace_id"] == "n8n-run-42"


@pytest.mark.django_db(transaction=True)
def test_a_task_whose_record_is_of_another_trace_carries_that_id(traced_here):
    """A task run in the trace its message brought while its record goes by another id (one the
    reaper re-sent, a replay, an admin action's) is tagged with the record's id, which its logs
    show; the SQL of its record's claim is inside its span, not a trace of its own."""
    ping.apply(headers={"trace_id": "approval-7"})
    spans = traced_here.get_finished_spans()
    (run,) = [s for s in spans if s.name == "run/tasks.outbound.ping"]
    assert run.attributes["bmc.trace_id"] == "approval-7"
    sql = [s for s in spans if s.attributes.get("db.system") == "postgresql"]
    assert sql and all(s.parent and s.parent.span_id == run.context.span_id for s in sql)


def test_with_tracing_off_nothing_is_installed():
    """A web process as production starts it (bmc/asgi.py), without OTEL_EXPORTER_OTLP_ENDPOINT,
    answering a request: no tracer provider, no instrumentation loaded, no library patched, no
    receiver on Celery's signals; the request still has its trace id. (redis-py imports the SDK's
    metrics by itself when the SDK is installed: that is not tracing.)"""
    script = """
import json, sys
import bmc.asgi
import celery.signals, psycopg, requests
from django.conf import settings
from django.test import Client
from django.test.utils import setup_test_environment
from opentelemetry import trace

setup_test_environment()
response = Client().get("/api/v1/nothing-here")
receivers = [r for s in (celery.signals.task_prerun, celery.signals.before_task_publish) for _, r in s.receivers]
print(json.dumps({
    "status": response.status_code,
    "trace_id": len(response["X-Trace-Id"]),
    "provider": type(trace.get_tracer_provider()).__name__,
    "instrumentations": sorted(m for m in sys.modules if m.startswith("opentelemetry.instrumentation")),
    "middleware": [m for m in settings.MIDDLEWARE if "opentelemetry" in m],
    "patched": [f.__qualname__ for f in (psycopg.connect, requests.Session.send) if hasattr(f, "__wrapped__")],
    "receivers": [repr(r) for r in receivers if "opentelemetry" in repr(r)],
}))
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.splitlines()[-1]) == {
        "status": 404,
        "trace_id": 32,
        "provider": "ProxyTracerProvider",
        "instrumentations": [],
        "middleware": [],
        "patched": [],
        "receivers": [],
    }
