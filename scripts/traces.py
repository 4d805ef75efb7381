"""A small OTLP/HTTP receiver that prints each trace as a tree: the traces of a running system on a
terminal, without Docker or a collector (docs/operations.md, "Traces").

    .venv/bin/python scripts/traces.py                       # listens on 127.0.0.1:4318
    OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 make run
    .venv/bin/python scripts/traces.py --trace 4bf92f3577b34da6a3ce929d0e0e4736 --save spans.jsonl

A trace is printed once no span of it has arrived for --quiet seconds (a message's trace ends with
the send of its reply), one line a span: its name, its process, its duration and what it did (the
SQL statement, the URL, the task id). --trace prints that trace alone (the trace_id of a log line,
or the X-Trace-Id the API answered); --save also appends every span as a JSON line, to read again
with --load.

The tests use `OtlpReceiver` to collect what a worker exports. It keeps everything in memory: a
tool for a person watching, not a collector to leave running.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import threading
import time
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

KINDS = {0: "", 1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
# what a span did, by the first of these attributes it has
DETAIL = (
    "db.statement",
    "db.query.text",
    "http.url",
    "url.full",
    "http.route",
    "celery.task_id",
    "messaging.message.id",
)


def _value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, kind) if kind else None


def spans_from_request(body: bytes) -> list[dict[str, Any]]:
    """The spans of one OTLP export (protobuf), each a flat dict."""
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    spans = []
    for resource_spans in request.resource_spans:
        resource = {kv.key: _value(kv.value) for kv in resource_spans.resource.attributes}
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append(
                    {
                        "trace_id": span.trace_id.hex(),
                        "span_id": span.span_id.hex(),
                        "parent_id": span.parent_span_id.hex(),
                        "name": span.name,
                        "kind": KINDS.get(span.kind, str(span.kind)),
                        "start_ns": span.start_time_unix_nano,
                        "end_ns": span.end_time_unix_nano,
                        "error": span.status.code == 2,
                        "attributes": {kv.key: _value(kv.value) for kv in span.attributes},
                        "service": resource.get("service.name", ""),
                        "process": resource.get("bmc.process", ""),
                    }
                )
    return spans


class OtlpReceiver:
    """OTLP over HTTP (protobuf, POST /v1/traces) on 127.0.0.1: every span received is appended to
    `spans`, and handed to `on_spans` if given. `url` is what OTEL_EXPORTER_OTLP_ENDPOINT takes."""

    def __init__(self, port: int = 0, on_spans: Any = None):
        self.spans: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                if self.path.rstrip("/") != "/v1/traces":
                    self._answer(404, b"")
                    return
                spans = spans_from_request(body)
                with receiver.lock:
                    receiver.spans.extend(spans)
                if on_spans is not None:
                    on_spans(spans)
                self._answer(200, ExportTraceServiceResponse().SerializeToString())

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def received(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.spans)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def tree_lines(spans: Iterable[dict[str, Any]]) -> list[str]:
    """One trace's spans as an indented tree, children in the order they started. A span whose
    parent never arrived is shown as a root, marked (parent missing)."""
    spans = sorted(spans, key=lambda s: s["start_ns"])
    ids = {s["span_id"] for s in spans}
    children: dict[str, list[dict[str, Any]]] = {}
    for span in spans:
        children.setdefault(span["parent_id"] if span["parent_id"] in ids else "", []).append(span)
    lines: list[str] = []

    def show(span: dict[str, Any], depth: int) -> None:
        detail = next((str(span["attributes"][k]) for k in DETAIL if k in span["attributes"]), "")
        orphan = " (parent missing)" if span["parent_id"] and span["parent_id"] not in ids else ""
        ms = (span["end_ns"] - span["start_ns"]) / 1e6
        lines.append(
            f"{'  ' * depth}{span['name']}  [{span['process'] or span['service']}] {ms:.1f} ms"
            f"{'  ERROR' if span['error'] else ''}{orphan}  {' '.join(detail.split())[:120]}".rstrip()
        )
        for child in children.get(span["span_id"], []):
            show(child, depth + 1)

    for root in children.get("", []):
        show(root, 0)
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=4318)
    parser.add_argument("--trace", help="print this trace only (32 hex digits)")
    parser.add_argument("--quiet", type=float, default=3.0, help="seconds without a new span before a trace prints")
    parser.add_argument("--save", help="append every span received to this file, one JSON line each")
    parser.add_argument("--load", help="print the traces saved in this file and exit")
    args = parser.parse_args(argv)

    if args.load:
        with open(args.load, encoding="utf-8") as saved:
            spans = [json.loads(line) for line in saved if line.strip()]
        traces: dict[str, list[dict[str, Any]]] = {}
        for span in spans:
            if not args.trace or span["trace_id"] == args.trace:
                traces.setdefault(span["trace_id"], []).append(span)
        for trace_id, trace_spans in traces.items():
            print(f"trace {trace_id} ({len(trace_spans)} spans)", *tree_lines(trace_spans), "", sep="\n")
        return 0

    pending: dict[str, list[dict[str, Any]]] = {}
    last_seen: dict[str, float] = {}
    lock = threading.Lock()

    def on_spans(spans: list[dict[str, Any]]) -> None:
        if args.save:
            with lock, open(args.save, "a", encoding="utf-8") as saved:
                saved.writelines(json.dumps(span) + "\n" for span in spans)
        with lock:
            for span in spans:
                if not args.trace or span["trace_id"] == args.trace:
                    pending.setdefault(span["trace_id"], []).append(span)
                    last_seen[span["trace_id"]] = time.monotonic()

    receiver = OtlpReceiver(args.port, on_spans=on_spans)
    receiver.spans = _Discard()  # a long watch keeps only what is still to print
    print(f"receiving OTLP/HTTP on {receiver.url} (OTEL_EXPORTER_OTLP_ENDPOINT={receiver.url})", file=sys.stderr)
    try:
        while True:
            time.sleep(0.5)
            with lock:
                quiet = [t for t, seen in last_seen.items() if time.monotonic() - seen >= args.quiet]
                ready = [(t, pending.pop(t)) for t in quiet if last_seen.pop(t, None) is not None]
            for trace_id, spans in ready:
                print(f"trace {trace_id} ({len(spans)} spans)", *tree_lines(spans), "", sep="\n", flush=True)
    except KeyboardInterrupt:
        return 0
    finally:
        receiver.close()


class _Discard(list):
    def extend(self, spans: Iterable[Any]) -> None:
        pass


if __name__ == "__main__":
    sys.exit(main())
