"""The web process as the Procfile starts it: real gunicorn on the test database and broker."""

from __future__ import annotations

import http.client
import json
from concurrent.futures import ThreadPoolExecutor, wait

import pytest

from tests.conftest import wait_for, web_server

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def web(transactional_db):
    """The Procfile's `web:` line, run by a shell as `make run` runs it; no worker consumes."""
    with web_server(CHAT_PROCESS_WAIT="4") as port:
        yield port


def request(port: int, method: str, path: str, body: dict | None = None, key: str = "") -> tuple[int, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {key}"} if key else {})}
    connection.request(method, path, json.dumps(body) if body is not None else None, headers)
    response = connection.getresponse()
    answer = json.loads(response.read() or b"{}")
    connection.close()
    return response.status, answer


def test_callers_waiting_for_a_reply_do_not_hold_up_the_rest_of_the_web(web, api_key):
    """More n8n flows waiting in chat/process than gunicorn has processes (the conversation
    agent is behind): health checks, webhooks and the API are still answered meanwhile."""
    finished: list[str] = []

    def chat(i: int) -> None:
        status, body = request(
            web, "POST", "/api/v1/chat/process", {"mensaje": "hola", "telefono": f"+5989900070{i}"}, key=api_key
        )
        assert status == 202 and body["status"] == "processing"  # nobody answered within the wait
        finished.append("chat")

    with ThreadPoolExecutor(3) as pool:
        waiting = [pool.submit(chat, i) for i in range(3)]  # one more than the Procfile's two processes
        wait_for(lambda: _chat_messages() == 3)  # all three are in, and waiting
        assert request(web, "GET", "/health")[0] == 200
        status, body = request(
            web,
            "POST",
            "/api/v1/messages",
            {
                "channel": "n8n",
                "from": "+59899000800",
                "text": "hola",
                "external_id": "web-1",
                "sent_at": "2026-11-21T10:00:00-03:00",
            },
            key=api_key,
        )
        assert status == 202 and body["message_id"]
        finished.append("others")
        wait(waiting)
        for call in waiting:
            call.result()
    assert finished == ["others", "chat", "chat", "chat"]


def _chat_messages() -> int:
    from bmc.conversations.models import Message

    return Message.objects.filter(
        direction="in", text="hola", conversation__customer__phone__startswith="+598990007"
    ).count()
