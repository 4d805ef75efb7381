"""The HTTP plumbing the sandboxes share: a threaded server whose handler hands each request to
the sandbox as a dict and writes back what it answers, with faults a test can queue."""

from __future__ import annotations

import json
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit


class Reply:
    """An answer. As a fault, `done=True` makes the sandbox carry the request out first and then
    answer this: a write that happened though its client was told it failed; `on` keeps it for
    the first request whose "METHOD /path" contains it."""

    def __init__(
        self,
        status: int,
        body: Any = None,
        headers: dict[str, str] | None = None,
        *,
        cut: bool = False,
        done: bool = False,
        on: str = "",
    ):
        self.status, self.body, self.headers, self.cut, self.done = status, body, headers or {}, cut, done
        self.on = on


class SandboxServer:
    """Subclasses answer `handle(request) -> Reply`. request: method, path (unquoted, without the
    query), query (dict of lists), headers, raw, json (None when the body is not JSON), form.

    `faults` is a queue of Replies answered instead of the next requests `faulty(request)` says
    may fail (a 500, a 429 with Retry-After, a body cut short with `cut=True`); `requests` records
    what was asked."""

    name = "sandbox"
    # attributes kept in `state_file` (JSON) between starts, when one is given
    persisted: tuple[str, ...] = ()

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, state_file: Path | None = None) -> None:
        self.state_file = state_file
        self.requests: list[dict[str, Any]] = []
        self.faults: deque[Reply] = deque()
        self.lock = threading.RLock()
        sandbox = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                self._answer()

            do_POST = do_PUT = do_DELETE = do_PATCH = do_GET

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                request = {
                    "method": self.command,
                    "path": parts.path,
                    "query": parse_qs(parts.query),
                    "headers": self.headers,
                    "raw": raw,
                    "json": _json(raw),
                    "form": {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()},
                }
                with sandbox.lock:
                    sandbox.requests.append(request)
                    fault = sandbox.fault_take(request)
                    try:
                        if fault is not None and fault.done:
                            sandbox.handle(request)
                        reply = fault or sandbox.handle(request)
                        sandbox.state_save()
                    except Exception as error:  # a sandbox bug answers 500 rather than hanging the client
                        reply = Reply(500, {"error": {"code": 500, "message": repr(error), "status": "INTERNAL"}})
                data = json.dumps(reply.body).encode() if reply.body is not None else b""
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                if reply.cut:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                self.wfile.write(data[: len(data) // 2] if reply.cut else data)

            def log_message(self, *args):
                pass

        self.server = _QuietServer((host, port), Handler)
        self.url = f"http://{host}:{self.server.server_address[1]}"

    def handle(self, request: dict[str, Any]) -> Reply:
        raise NotImplementedError

    def faulty(self, request: dict[str, Any]) -> bool:
        return True

    def fault_take(self, request: dict[str, Any]) -> Reply | None:
        if not self.faults or not self.faulty(request):
            return None
        said = f"{request['method']} {request['path']}"
        for fault in self.faults:
            if fault.on in said:
                self.faults.remove(fault)
                return fault
        return None

    def state_load(self) -> None:
        if self.state_file and self.state_file.exists():
            state = json.loads(self.state_file.read_text())
            for name in self.persisted:
                if name in state:
                    setattr(self, name, _revive(state[name]))

    def state_save(self) -> None:
        if self.state_file:
            state = {name: _keep(getattr(self, name)) for name in self.persisted}
            self.state_file.write_text(json.dumps(state, indent=1))

    def start(self) -> SandboxServer:
        threading.Thread(target=self.server.serve_forever, daemon=True, name=self.name).start()
        return self

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def calls(self, method: str | None = None, path_part: str = "") -> list[dict[str, Any]]:
        return [r for r in self.requests if (method is None or r["method"] == method) and path_part in r["path"]]


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        pass  # a client that gave up closed the connection: not worth a traceback


def _keep(value: Any) -> Any:
    if isinstance(value, set):
        return {"__set__": sorted(value)}
    if isinstance(value, dict):
        return {"__keys__": [[type(k).__name__, k] for k in value], "__values__": list(value.values())}
    return value


def _revive(value: Any) -> Any:
    if isinstance(value, dict) and "__set__" in value:
        return set(value["__set__"])
    if isinstance(value, dict) and "__keys__" in value:
        return {
            (int(k) if kind == "int" else k): v
            for (kind, k), v in zip(value["__keys__"], value["__values__"], strict=True)
        }
    return value
