"""Traces: OpenTelemetry across the web, the workers and beat, on when an OTLP endpoint is set.

One trace follows a customer's message from the request that brought it (the webhook, n8n's
POST) through every task it causes to the send that answers it: Django's instrumentation opens
the request's span (a caller's W3C `traceparent` continues the caller's trace), Celery's carries
the context in each task message's headers, psycopg's and requests' add the SQL statements and
the HTTP calls out. The trace id in the logs and on the task records is the OpenTelemetry one
(`trace_id_current`), so a log line's trace_id pasted into Jaeger or Tempo finds its trace.

Off (no OTEL_EXPORTER_OTLP_ENDPOINT) nothing is installed: no tracer provider, no instrumentation
imported, no patched library; what remains is a check of one module flag per request and per task
record (docs/operations.md, "Traces", has the figures).

Each process sets itself up once: the web in bmc/asgi.py (gunicorn's workers import it after their
fork), a Celery worker in the processes of its pool on `worker_process_init` (the exporter's thread
would not survive the fork) and beat on `beat_init` (bmc/celery.py). A low-level module, like
bmc/logging.py: it imports nothing of the project.
"""

from __future__ import annotations

import logging
import os
from typing import Any

logger = logging.getLogger(__name__)

# Polled by load balancers and Prometheus, scraped static files: a trace each would drown the rest.
EXCLUDED_URLS = "/health,/metrics,/static/"

_provider: Any = None  # the TracerProvider the instrumentations report to; None: tracing is off
_instrumented: list[Any] = []


def tracing_enabled() -> bool:
    return _provider is not None


def tracing_setup(*, process: str) -> bool:
    """Trace this process when OTEL_EXPORTER_OTLP_ENDPOINT is set: spans batched to that endpoint
    over OTLP/HTTP, sampled as the standard OTEL_TRACES_SAMPLER variables say (the SDK reads them),
    under OTEL_SERVICE_NAME with `bmc.process` (web, worker:<queues>, beat) telling processes apart.
    Once per process; True when tracing is on."""
    if _provider is not None:
        return True
    from django.conf import settings

    if not settings.OTEL_EXPORTER_OTLP_ENDPOINT:
        return False
    # the SDK and the instrumentations are imported only by a process that traces
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(
        resource=Resource.create({"service.name": settings.OTEL_SERVICE_NAME, "bmc.process": process})
    )
    # the endpoint, its headers and the batch's pace come from the standard OTEL_* variables
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    tracing_instrument(provider=provider)
    logger.info("tracing on", extra={"process": process, "endpoint": settings.OTEL_EXPORTER_OTLP_ENDPOINT})
    return True


def tracing_instrument(*, provider: Any) -> None:
    """Django, Celery, requests and psycopg report to `provider`: what `tracing_setup` does with the
    exporting provider, and a test with one of its own (undone by `tracing_uninstrument`)."""
    global _provider
    if _provider is not None:
        raise RuntimeError("tracing is instrumented already")
    from celery import signals
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.requests import RequestsInstrumentor

    excluded = os.environ.get("OTEL_PYTHON_DJANGO_EXCLUDED_URLS") or os.environ.get("OTEL_PYTHON_EXCLUDED_URLS")
    # The web and beat send the consumers' tasks by name without importing them: for a task it
    # cannot find, the instrumentation still sends the context, with a publish span that ends at once.
    celery = CeleryInstrumentor()
    for instrumentor, options in (
        # before Django loads its middleware: the request's span is opened first and closed last
        (DjangoInstrumentor(), {"excluded_urls": excluded or EXCLUDED_URLS}),
        (celery, {}),
        (RequestsInstrumentor(), {}),
        # before the first connection: only connections opened afterwards are traced
        (PsycopgInstrumentor(), {}),
    ):
        instrumentor.instrument(tracer_provider=provider, **options)
        _instrumented.append(instrumentor)
    # The task's span must be current before tasks/base.py claims its record (SQL that belongs to
    # the task): Celery calls a signal's receivers in the order they connected, and the consumers
    # connected theirs when they were imported, before this.
    _receivers_first(signals.task_prerun, owner=celery)
    signals.task_prerun.connect(_task_span_tag, weak=False)
    _provider = provider


def tracing_uninstrument() -> None:
    """Undo `tracing_instrument` (tests): the libraries unpatched, the flag off."""
    global _provider
    from celery import signals

    signals.task_prerun.disconnect(_task_span_tag)
    while _instrumented:
        _instrumented.pop().uninstrument()
    _provider = None


def tracing_flush() -> None:
    """Export what is batched (a pool process about to exit)."""
    if _provider is not None:
        _provider.force_flush()


def trace_id_current() -> str | None:
    """The trace id of the span being recorded now, as 32 hex digits (the W3C form, as Jaeger and
    Tempo search it); None when tracing is off or no span is current."""
    context = _span_context() if _provider is not None else None
    return format(context.trace_id, "032x") if context else None


def span_id_current() -> str | None:
    """The id of the current span, as 16 hex digits; None when tracing is off or there is none."""
    context = _span_context() if _provider is not None else None
    return format(context.span_id, "016x") if context else None


def _span_context() -> Any:
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    return context if context.is_valid else None


def span_trace_id_tag(trace_id: str) -> None:
    """The logs and records of the current span's work go by another trace id (one the caller gave
    in X-Trace-Id, or a task re-sent from another trace): the span carries it as `bmc.trace_id`,
    so a search by the logs' id finds the span."""
    if _provider is None:
        return
    from opentelemetry import trace

    span = trace.get_current_span()
    if span.is_recording() and trace_id != format(span.get_span_context().trace_id, "032x"):
        span.set_attribute("bmc.trace_id", trace_id)


def _task_span_tag(task: Any = None, **_: Any) -> None:
    """A task's span carries the trace id of its record (and its logs) when that is another."""
    request = getattr(task, "request", None)
    if request is None:
        return
    trace_id = getattr(request, "trace_id", None) or (getattr(request, "headers", None) or {}).get("trace_id")
    if trace_id:
        span_trace_id_tag(str(trace_id))


def _receivers_first(signal: Any, *, owner: object) -> None:
    """Move the receivers bound to `owner` to the front of `signal`, the rest keeping their order."""
    with signal.lock:
        signal.receivers.sort(key=lambda entry: getattr(entry[1], "__self__", None) is not owner)
        signal.sender_receivers_cache.clear()
