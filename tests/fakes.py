"""A local HTTP server that answers JSON as the test tells it: stands in for the APIs outside
this machine (OpenAI, Meta, n8n) so the real client libraries run against it."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeJsonServer:
    """Records every POST ({path, headers, raw, json}) and answers `respond(request)` ->
    (status, body), after `delay` seconds."""

    def __init__(self, respond: Callable[[dict[str, Any]], tuple[int, Any]]):
        self.requests: list[dict[str, Any]] = []
        self.delay = 0.0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                # headers stay an email.message.Message: looked up without regard to case
                request = {"path": self.path, "headers": self.headers, "raw": raw, "json": json.loads(raw)}
                fake.requests.append(request)
                time.sleep(fake.delay)
                status, body = respond(request)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        pass  # a client that timed out on purpose closed the connection: not worth a traceback
