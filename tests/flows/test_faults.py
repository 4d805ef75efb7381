"""The database going away (the reduced form of `make chaos`'s PostgreSQL round, bench/chaos.py):
on real processes the web answers 503 with Retry-After and the API's error body, never 500, and
what the clients send again once it is back is answered once, a webhook delivered twice too; a
reply that went out just as it went away is recorded sent, not sent again."""

from __future__ import annotations

import http.client
import json
import threading
import time

import psycopg
import pytest
from django.db import connection

from agents.outbound import outbound_reply_create, outbound_send
from agents.tenants import system_bootstrap
from bmc.conversations.models import Conversation, Customer, Message
from tests.conftest import wait_for, web_server
from tests.fakes import FakeJsonServer, whatsapp_delivery

SECRET = "fault-app-secret"
TEXT = "cuanto sale isodec 100 para un techo de 6 x 4,48 con flete a montevideo"


def post(port: int, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict, dict]:
    connection_ = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection_.request("POST", path, body, {"Content-Type": "application/json", **headers})
        response = connection_.getresponse()
        return response.status, json.loads(response.read() or b"{}"), {k.lower(): v for k, v in response.getheaders()}
    finally:
        connection_.close()


def api_message(port: int, key: str, phone: str) -> tuple[int, dict, dict]:
    body = {"channel": "n8n", "from": phone, "text": TEXT, "external_id": f"fault-{phone}", "sent_at": int(time.time())}
    return post(port, "/api/v1/messages", json.dumps(body).encode(), {"Authorization": f"Bearer {key}"})


def webhook_message(port: int, phone: str) -> tuple[int, dict, dict]:
    body, headers = whatsapp_delivery(phone=phone, message_id=f"wamid.fault-{phone}", text=TEXT, secret=SECRET)
    return post(port, "/api/v1/webhooks/whatsapp", body, headers)


def database_allow(allowed: bool, *, spare: int | None = None) -> None:
    """The test database refuses new connections and those it had are cut (but `spare`'s, a
    server process id), or it takes them again; the server others use stays up. Done from its
    maintenance database: a database cannot refuse the connection that asks it to."""
    settings = connection.settings_dict
    with psycopg.connect(
        dbname="postgres",
        host=settings["HOST"] or None,
        port=settings["PORT"] or None,
        user=settings["USER"] or None,
        password=settings["PASSWORD"] or None,
        autocommit=True,
    ) as admin:
        admin.execute(f'ALTER DATABASE "{settings["NAME"]}" ALLOW_CONNECTIONS {str(allowed).lower()}')
        if not allowed:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> %s",
                (settings["NAME"], spare or 0),
            )


def own_backend() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def sent_replies(phone: str) -> int:
    return Message.objects.filter(conversation__customer__phone=phone, direction="out", delivery_status="sent").count()


@pytest.fixture
def outage_ends():
    if connection.vendor != "postgresql":
        pytest.skip("an outage of the database server; SQLite has no server to lose")
    yield
    database_allow(True)  # whatever the test did


@pytest.mark.worker
def test_the_database_away_is_503_with_retry_after_and_nothing_is_lost(api_key, start_worker, outage_ends):
    system_bootstrap()
    start_worker(("conversation", "quote", "outbound"), concurrency=2)
    with web_server(WHATSAPP_APP_SECRET=SECRET) as port:
        assert api_message(port, api_key, "+59899000901")[0] == 202
        # answered: the web and the worker hold connections, which the outage cuts (a task cut
        # in the middle is the reaper's, which `make chaos` runs)
        wait_for(lambda: sent_replies("+59899000901"), timeout=30)

        database_allow(False, spare=own_backend())
        refused = [api_message(port, api_key, "+59899000902"), webhook_message(port, "59899000903")]
        for status, body, headers in refused:
            assert status == 503, body
            assert headers["retry-after"] == "5" and body["error"]["code"] == "database_unavailable"
        database_allow(True)

        # n8n and Meta send again after Retry-After (sooner here); Meta once more, as it may
        assert api_message(port, api_key, "+59899000902")[0] == 202
        assert webhook_message(port, "59899000903")[:2] == (
            200,
            {"accepted": 1, "duplicates": 0, "statuses": 0, "ignored": 0},
        )
        assert webhook_message(port, "59899000903")[1]["duplicates"] == 1

        phones = ("+59899000901", "+59899000902", "+59899000903")
        wait_for(lambda: all(sent_replies(phone) for phone in phones), timeout=60)
        time.sleep(1)  # a second reply would show by now
        assert [sent_replies(phone) for phone in phones] == [1, 1, 1]


@pytest.mark.django_db(transaction=True)
def test_a_reply_that_went_out_as_the_database_went_away_is_recorded_sent_not_sent_again(settings, tenant, outage_ends):
    """Meta takes the reply and, at that moment, the database goes away for two seconds: the send
    is recorded once it is back (else, left `sending`, it would go again once stale). `make
    chaos` found a reply sent twice this way."""
    settings.OUTBOUND_CHANNEL = "whatsapp"
    settings.WHATSAPP_TOKEN, settings.WHATSAPP_PHONE_NUMBER_ID = "tok", "301822446011907"
    customer = Customer.objects.create(tenant=tenant, phone="+59894807926")
    conversation = Conversation.objects.create(tenant=tenant, customer=customer, channel="whatsapp")
    Message.objects.create(tenant=tenant, conversation=conversation, direction="in", channel="whatsapp", text=TEXT)
    reply = outbound_reply_create(conversation=conversation, text="Total USD 1.816,95")

    def meta(request: dict) -> tuple[int, dict]:
        database_allow(False)
        threading.Timer(2, database_allow, args=(True,)).start()
        return 200, {"messages": [{"id": "wamid.once"}]}

    fake = FakeJsonServer(meta)
    settings.WHATSAPP_API_BASE = fake.url
    try:
        assert outbound_send(tenant_id=tenant.pk, message_id=reply.pk) == "sent"
        assert outbound_send(tenant_id=tenant.pk, message_id=reply.pk) == "sent"  # its task delivered again
    finally:
        fake.close()
    assert len(fake.requests) == 1
    reply.refresh_from_db()
    assert (reply.delivery_status, reply.external_id) == ("sent", "wamid.once")
