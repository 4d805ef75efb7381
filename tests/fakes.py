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
    """Records every request ({method, path, headers, raw, json}) and answers `respond(request)`
    -> (status, body), after `delay` seconds. A GET has no body: raw b"", json None."""

    def __init__(self, respond: Callable[[dict[str, Any]], tuple[int, Any]]):
        self.requests: list[dict[str, Any]] = []
        self.delay = 0.0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self._answer(b"")

            def do_POST(self):
                self._answer(self.rfile.read(int(self.headers["Content-Length"])))

            def _answer(self, raw: bytes) -> None:
                # headers stay an email.message.Message: looked up without regard to case
                body = json.loads(raw) if raw else None
                request = {"method": self.command, "path": self.path, "headers": self.headers, "raw": raw, "json": body}
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


class FakeMercadoPago(FakeJsonServer):
    """Mercado Pago's API as its SDK calls it: a preference per idempotency key (the same key, the
    same preference, as Mercado Pago does) and the payments the test puts in `payments`."""

    def __init__(self) -> None:
        self.payments: dict[str, dict[str, Any]] = {}
        self.preferences: dict[str, dict[str, Any]] = {}
        super().__init__(self._respond)

    def _respond(self, request: dict[str, Any]) -> tuple[int, Any]:
        if request["method"] == "POST" and request["path"] == "/checkout/preferences":
            key = request["headers"]["x-idempotency-key"]
            if key not in self.preferences:
                pref = f"pref-{len(self.preferences) + 1}"
                self.preferences[key] = {
                    "id": pref,
                    "init_point": f"https://www.mercadopago.com.uy/checkout/v1/redirect?pref_id={pref}",
                    "external_reference": request["json"]["external_reference"],
                    "items": request["json"]["items"],
                }
            return 201, self.preferences[key]
        if request["method"] == "GET" and request["path"].startswith("/v1/payments/"):
            payment = self.payments.get(request["path"].rsplit("/", 1)[1])
            return (200, payment) if payment else (404, {"message": "Payment not found", "status": 404})
        return 404, {"message": f"not here: {request['method']} {request['path']}"}
