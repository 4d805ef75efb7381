"""A local HTTP server that answers JSON as the test tells it: stands in for the APIs outside
this machine (OpenAI, Meta, n8n) so the real client libraries run against it."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

WHATSAPP_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "whatsapp"


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


def chat_completion(*, model: str, content: str) -> dict[str, Any]:
    """OpenAI's answer to POST /v1/chat/completions, `content` the assistant's message."""
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": model,
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


@cache
def _text_message() -> dict[str, Any]:
    return json.loads((WHATSAPP_FIXTURES / "text_message.json").read_text())


def whatsapp_delivery(*, phone: str, message_id: str, text: str, secret: str) -> tuple[bytes, dict[str, str]]:
    """What Meta POSTs to the webhook for one customer's text message (the fixture's shape), with
    X-Hub-Signature-256 made with the app secret. `phone`: digits, as Meta writes it."""
    data = copy.deepcopy(_text_message())
    value = data["entry"][0]["changes"][0]["value"]
    value["contacts"][0]["wa_id"] = phone
    value["messages"][0] |= {
        "from": phone,
        "id": message_id,
        "timestamp": str(int(time.time())),
        "text": {"body": text},
    }
    body = json.dumps(data).encode()
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return body, {"Content-Type": "application/json", "X-Hub-Signature-256": signature}
