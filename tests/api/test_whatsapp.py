"""Every fixture of tests/fixtures/whatsapp (Meta's own bodies), with a good and a bad signature, delivered twice."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pytest

from bmc.conversations.models import Conversation, Customer, InboundPayload, Message
from bmc.jobs.models import AgentTask
from bmc.sales.models import StaffTask

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "whatsapp"
SECRET = "test-app-secret"

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def whatsapp_settings(settings, tenant):
    settings.WHATSAPP_APP_SECRET = SECRET
    settings.WHATSAPP_VERIFY_TOKEN = "verify-me"


def post(client, name: str, *, secret: str = SECRET, capture=None):
    body = (FIXTURES / name).read_bytes()
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return client.post(
        "/api/v1/webhooks/whatsapp", body, content_type="application/json", HTTP_X_HUB_SIGNATURE_256=signature
    )


def test_verification_answers_the_challenge_only_to_the_right_token(client):
    ok = client.get(
        "/api/v1/webhooks/whatsapp",
        {"hub.mode": "subscribe", "hub.verify_token": "verify-me", "hub.challenge": "1158201444"},
    )
    assert ok.status_code == 200 and ok.content == b"1158201444"
    assert (
        client.get(
            "/api/v1/webhooks/whatsapp", {"hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "x"}
        ).status_code
        == 403
    )


@pytest.mark.parametrize(
    "name",
    [
        "text_message.json",
        "two_messages_burst.json",
        "button_reply.json",
        "document_message.json",
        "status_delivered.json",
        "status_read.json",
        "status_failed_131047.json",
    ],
)
def test_a_bad_signature_is_401_and_what_an_audit_needs_is_kept(client, name):
    response = post(client, name, secret="wrong")
    assert response.status_code == 401
    stored = InboundPayload.objects.get()
    raw = (FIXTURES / name).read_bytes()
    assert stored.outcome == "rejected" and stored.error == "bad signature"
    assert stored.body == raw.decode() and not stored.truncated  # a delivery's size: kept whole
    assert stored.size == len(raw) and stored.sha256 == hashlib.sha256(raw).hexdigest()
    assert stored.headers["X-Hub-Signature-256"].startswith("sha256=") and stored.source_address == "127.0.0.1"
    assert Message.objects.count() == 0


def test_unsigned_bodies_cannot_fill_the_disk(client, settings):
    big = b'{"entry": [], "pad": "' + b"x" * 250_000 + b'"}'
    for _ in range(settings.WEBHOOK_REFUSED_LIMIT):
        response = client.post(
            "/api/v1/webhooks/whatsapp", big, content_type="application/json", HTTP_X_HUB_SIGNATURE_256="sha256=00"
        )
        assert response.status_code == 401
    stored = InboundPayload.objects.all()
    assert stored.count() == settings.WEBHOOK_REFUSED_LIMIT
    assert all(p.truncated and len(p.body) == settings.AUDIT_BODY_BYTES and p.size == len(big) for p in stored)
    # past the limit from this address: 429 and nothing more kept
    over = client.post(
        "/api/v1/webhooks/whatsapp", big, content_type="application/json", HTTP_X_HUB_SIGNATURE_256="sha256=00"
    )
    assert over.status_code == 429 and int(over["Retry-After"]) == settings.WEBHOOK_REFUSED_WINDOW
    assert InboundPayload.objects.count() == settings.WEBHOOK_REFUSED_LIMIT
    # Meta's own deliveries from the same address still come in
    assert post(client, "text_message.json").status_code == 200
    assert Message.objects.count() == 1


def test_text_message_becomes_a_customer_conversation_and_a_task_once(client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        first = post(client, "text_message.json")
        again = post(client, "text_message.json")
    assert first.status_code == again.status_code == 200
    assert first.json()["accepted"] == 1 and again.json() == {
        "accepted": 0,
        "duplicates": 1,
        "statuses": 0,
        "ignored": 0,
    }
    message = Message.objects.get()
    assert (
        message.conversation.customer.phone == "+59894807926" and message.conversation.customer.name == "Gabriel Suarez"
    )
    assert message.text.startswith("hola, cuanto sale isodec 100") and message.raw_payload["id"].startswith("wamid.")
    assert AgentTask.objects.filter(task_type="conversation.process_message").count() == 1
    assert list(InboundPayload.objects.values_list("outcome", flat=True).order_by("received_at")) == [
        "accepted",
        "duplicate",
    ]


def test_a_burst_is_two_messages_in_one_conversation(client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        assert post(client, "two_messages_burst.json").json()["accepted"] == 2
        assert post(client, "two_messages_burst.json").json()["duplicates"] == 2
    assert Conversation.objects.count() == 1
    assert list(Message.objects.values_list("text", flat=True)) == ["perdon, que sea a dos aguas", "y en gris"]


def test_button_reply_and_document_are_stored(client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        post(client, "button_reply.json")
        post(client, "document_message.json")
        post(client, "document_message.json")
    button, document = Message.objects.order_by("id")
    assert button.text == "Confirmo" and button.raw_payload["bmc"]["reply_id"] == "quote_accept"
    assert document.text == "comprobante de la transferencia"
    assert (
        document.raw_payload["bmc"]["media_id"] == "1289034567812345"
        and document.raw_payload["bmc"]["filename"] == "comprobante.pdf"
    )


def _outbound(tenant, external_id, status="sent"):
    customer = Customer.objects.create(tenant=tenant, phone="+59894807926")
    conversation = Conversation.objects.create(tenant=tenant, customer=customer)
    return Message.objects.create(
        tenant=tenant,
        conversation=conversation,
        direction="out",
        channel="whatsapp",
        external_id=external_id,
        delivery_status=status,
        text="hola",
    )


def test_statuses_move_forward_only_and_failed_is_final(client, tenant):
    sent = _outbound(tenant, "wamid.HBgLNTk4OTQ4MDc5MjYVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA")
    assert post(client, "status_read.json").json()["statuses"] == 1
    assert post(client, "status_delivered.json").json()["statuses"] == 0  # late: read stays read
    assert post(client, "status_read.json").json()["statuses"] == 0  # repeated
    sent.refresh_from_db()
    assert sent.delivery_status == "read"

    failed = Message.objects.create(
        tenant=tenant,
        conversation=sent.conversation,
        direction="out",
        channel="whatsapp",
        external_id="wamid.HBgLNTk4OTQ4MDc5MjYVAgARGBJBMTIzNDU2Nzg5MEFCQ0RFRgA=",
        delivery_status="sent",
    )
    post(client, "status_failed_131047.json")
    post(client, "status_failed_131047.json")
    failed.refresh_from_db()
    assert (failed.delivery_status, failed.error_code) == ("failed", "131047")
    # outside the 24-hour window: a person has to reach the customer, once however often Meta tells us
    (task,) = StaffTask.objects.filter(kind="reengage")
    assert task.message_id == failed.pk and task.conversation_id == sent.conversation_id and "131047" in task.detail


@pytest.mark.parametrize(
    "body",
    [
        {"object": "whatsapp_business_account", "entry": [{"changes": [{"value": "not an object"}]}]},
        {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "changes": [
                        {
                            "value": {
                                "contacts": [{"profile": None, "wa_id": "1"}],
                                "messages": [
                                    {
                                        "from": "59894807926",
                                        "id": "wamid.x",
                                        "timestamp": "99999999999999999",
                                        "type": "text",
                                        "text": "plain",
                                    }
                                ],
                            }
                        }
                    ]
                }
            ],
        },
    ],
)
def test_a_signed_body_of_an_unexpected_shape_is_400_not_500(client, body):
    raw = json.dumps(body).encode()
    signature = "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
    response = client.post(
        "/api/v1/webhooks/whatsapp", raw, content_type="application/json", HTTP_X_HUB_SIGNATURE_256=signature
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid"
    assert InboundPayload.objects.get().outcome == "rejected"  # kept, and Meta is not invited to retry a 500


def test_each_company_gets_the_messages_of_its_own_number(client, settings, tenant, django_capture_on_commit_callbacks):
    """Two companies under one Meta app: a message goes to the company answering on the number it
    reached; a number nobody here answers on is kept in the raw log and goes nowhere."""
    from bmc.core.models import Tenant

    other = Tenant.objects.create(slug="frio", name="Frío SRL", whatsapp_phone_number_id="301822446011907")
    settings.WHATSAPP_PHONE_NUMBER_ID = "999000111"  # the default company's number
    with django_capture_on_commit_callbacks(execute=False):
        assert post(client, "text_message.json").json()["accepted"] == 1  # sent to 301822446011907
    message = Message.objects.get()
    assert message.tenant_id == other.pk and message.conversation.customer.tenant_id == other.pk
    assert AgentTask.objects.get(task_type="conversation.process_message").tenant_id == other.pk

    other.whatsapp_phone_number_id = "555"
    other.save()
    with django_capture_on_commit_callbacks(execute=False):
        response = post(client, "two_messages_burst.json")
    assert response.status_code == 200
    assert response.json() == {"accepted": 0, "duplicates": 0, "statuses": 0, "ignored": 2}
    assert Message.objects.count() == 1  # nothing stored for a number no company answers on
    kept = InboundPayload.objects.order_by("-received_at").first()
    assert kept.outcome == "ignored" and "no company here answers on" in kept.error
    assert json.loads(kept.body)["entry"]  # the raw body is there to look at


def test_without_a_configured_number_every_delivery_is_the_default_companys(client, settings, tenant):
    settings.WHATSAPP_PHONE_NUMBER_ID = ""
    assert post(client, "text_message.json").json()["accepted"] == 1
    assert Message.objects.get().tenant_id == tenant.pk


def test_a_company_cannot_take_the_default_companys_number(settings, tenant):
    from django.core.exceptions import ValidationError

    from bmc.core.models import Tenant

    settings.WHATSAPP_PHONE_NUMBER_ID = "999000111"
    with pytest.raises(ValidationError, match="cada empresa necesita un número propio"):
        Tenant(slug="frio", name="Frío SRL", whatsapp_phone_number_id="999000111").full_clean()
    Tenant(slug="frio", name="Frío SRL", whatsapp_phone_number_id="555").full_clean()


@pytest.mark.parametrize(("kind", "turns"), [("audio", 1), ("location", 1), ("sticker", 0), ("reaction", 0)])
def test_a_voice_note_or_a_location_gets_a_turn_a_sticker_does_not(
    client, kind, turns, django_capture_on_commit_callbacks
):
    """A voice note is answered (asking for text) like any message; a sticker or a reaction is
    stored and left alone."""
    body = json.loads((FIXTURES / "text_message.json").read_text())
    message = body["entry"][0]["changes"][0]["value"]["messages"][0]
    message.pop("text")
    message.update(type=kind, **{kind: {"id": "media-77"} if kind != "location" else {"latitude": -34.9}})
    raw = json.dumps(body).encode()
    signature = "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(
            "/api/v1/webhooks/whatsapp", raw, content_type="application/json", HTTP_X_HUB_SIGNATURE_256=signature
        )
    assert response.json()["accepted"] == 1
    assert Message.objects.get().raw_payload["type"] == kind
    assert AgentTask.objects.filter(task_type="conversation.process_message").count() == turns
