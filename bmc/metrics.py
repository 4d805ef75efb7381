"""Prometheus metrics of every process: web, workers, beat, in prometheus-client's multiprocess mode.

gunicorn's workers and each Celery worker's prefork pool are many processes; each one writes its
counters and histograms to its own memory-mapped files in PROMETHEUS_MULTIPROC_DIR, and `/metrics`
(any web process) sums the files of the machine. `make run` gives every process the same
directory (var/metrics, emptied when it starts); a deployment that starts the processes otherwise
sets PROMETHEUS_MULTIPROC_DIR to a directory of its own, empty at start (the default is
<BMC_VAR_DIR>/metrics). A worker machine without a web process serves its own sum with
`python -m bmc.metrics --port 9100` (docs/operations.md, "Metrics").

What is only known at the moment of a scrape (queue depths, the circuit breakers) is read then, by
the web process that answers it, and written nowhere.

Prometheus' own library because it owns the text format and the multiprocess arithmetic; the
directory must be known before the library is first imported, hence the first lines below.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent


def _multiprocess_dir() -> Path:
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        directory = str(Path(os.environ.get("BMC_VAR_DIR", _ROOT / "var")) / "metrics")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    return path


MULTIPROC_DIR = _multiprocess_dir()

from prometheus_client import (  # noqa: E402  (the directory above is read when the library loads)
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily  # noqa: E402

# A customer's message goes through several agents, a follow-up waits for a send window: seconds
# to minutes, so the buckets reach five minutes.
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)

AGENT_MESSAGES = Counter(
    "agent_messages_total",
    "Messages between agents as the audit log records them: requests, responses, errors.",
    ["from_agent", "to_agent", "message_type"],
)
AGENT_MESSAGE_LATENCY = Histogram(
    "agent_message_latency_seconds",
    "From an agent's request to its response: a task's time from its record to its completion.",
    ["agent", "intent"],
    buckets=LATENCY_BUCKETS,
)
AGENT_ERRORS = Counter(
    "agent_errors_total",
    "Errors of agents' tasks by kind: the exception's class, or dead / cancelled / expired.",
    ["agent", "error_type"],
)
TASK_DURATION = Histogram(
    "agent_task_duration_seconds",
    "A task's run on a worker, from its start to its end.",
    ["agent", "task_type"],
    buckets=LATENCY_BUCKETS,
)
TASK_OUTCOMES = Counter(
    "agent_tasks_total",
    "Tasks run by each agent, by outcome: completed, failed, retried, dead, cancelled, skipped.",
    ["agent", "outcome"],
)
OUTBOUND_MESSAGES = Counter(
    "outbound_messages_total",
    "Messages to customers by channel, origin (reply, followup, dunning) and outcome "
    "(sent, failed, withdrawn, retried).",
    ["channel", "origin", "outcome"],
)
INBOUND_MESSAGES = Counter("inbound_messages_total", "Customers' messages taken in, by channel.", ["channel"])
DOCUMENT_STAGES = Counter(
    "documents_stage_total",
    "Documents through each stage of the documents agent, by outcome (ok, failed).",
    ["stage", "outcome"],
)
WORKFLOW_RUNS = Counter("workflow_runs_total", "Workflow runs ended, by definition and status.", ["workflow", "status"])
HTTP_REQUESTS = Counter(
    "http_requests_total", "HTTP requests answered, by route and status.", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "http_request_duration_seconds",
    "HTTP requests' time in Django, by route.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

BREAKER_STATE_VALUES = {"closed": 0, "half_open": 1, "open": 2}


def agent_label(task_name: str) -> str:
    """tasks.<queue>.<what>: each agent consumes its own queue, so the queue names the agent."""
    parts = task_name.split(".")
    return parts[1] if len(parts) > 2 else task_name


class ScrapeTimeCollector:
    """What only the moment of a scrape knows: the broker's queue depths and the breakers' states.
    A source that cannot answer (the broker down) leaves its metric out; the rest is served."""

    def collect(self):
        depth = GaugeMetricFamily("celery_queue_depth", "Task messages waiting in each queue.", labels=["queue"])
        try:
            from bmc.health import queue_depths  # reads the broker: only when scraped

            for queue, count in queue_depths().items():
                if count is not None:
                    depth.add_metric([queue], count)
            yield depth
        except Exception:
            pass
        yield from _breaker_metrics()


def _breaker_metrics():
    try:
        from bmc.breakers import breaker_states  # the breakers' shared state, read when scraped
    except ImportError:
        return
    try:
        states = breaker_states()
    except Exception:
        return
    state = GaugeMetricFamily(
        "circuit_breaker_state", "Each outside service's breaker: 0 closed, 1 half open, 2 open.", labels=["service"]
    )
    failures = GaugeMetricFamily(
        "circuit_breaker_failures", "Failures counted by each breaker since it last closed.", labels=["service"]
    )
    for service, info in sorted(states.items()):
        state.add_metric([service], BREAKER_STATE_VALUES.get(str(info.get("state")), 0))
        failures.add_metric([service], float(info.get("failures") or 0))
    yield state
    yield failures


def metrics_exposition(*, scrape_time: bool = True) -> tuple[bytes, str]:
    """The machine's metrics in Prometheus' text format: every process's files summed, and (for
    the web) what is read at scrape time."""
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(MULTIPROC_DIR))
    if scrape_time:
        registry.register(ScrapeTimeCollector())
    return generate_latest(registry), CONTENT_TYPE_LATEST


class HttpMetricsMiddleware:
    """Every request counted by its route's pattern (api/v1/quotes/<int:quote_id>, not each id),
    so the metric keeps a bounded number of series; what matched no route is 'unmatched'."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        route = match.route if match is not None and match.route else "unmatched"
        if route.startswith("admin/"):
            route = "admin"  # the admin's hundreds of pages are one route to an operator
        HTTP_REQUESTS.labels(request.method, route, str(response.status_code)).inc()
        HTTP_LATENCY.labels(request.method, route).observe(time.perf_counter() - started)
        return response


def serve(port: int, address: str = "0.0.0.0") -> None:
    """A worker machine's own /metrics: the sum of this machine's processes, nothing read at
    scrape time (the web does that)."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body, content_type = metrics_exposition(scrape_time=False)
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *args):
            pass

    ThreadingHTTPServer((address, port), Handler).serve_forever()


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Serve this machine's metrics (a worker machine without a web).")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--address", default="0.0.0.0")
    arguments = parser.parse_args()
    serve(arguments.port, arguments.address)
