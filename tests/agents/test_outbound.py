"""Channel adapters against local servers that speak n8n's webhook and Meta's Cloud API."""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta

import pytest
from django.utils import timezone, translation

from agents.outbound import TransientSendError, outbound_failed, outbound_reply_create, outbound_send
from bmc.conversations.models import Conversation, Customer, Message
from tests.fakes import FakeJsonServer

pytestmark = pytest.mark.django_db


class FakeProvider(FakeJsonServer):
    """n8n's webhook or Meta's Cloud API: answers the queued responses, then a Cloud API success."""

    def __init__(self):
        self.responses: list[tuple[int, dict]] = []
        super().__init__(self._respond)

    def _respond(self, request: dict) -> tuple[int, dict]:
        if self.responses:
            return self.responses.pop(0)
        return 200, {"messages": [{"id": f"wamid.{len(self.requests)}"}]}


@pytest.fixture
def provider():
    fake = FakeProvider()
    yield fake
    fake.close()


@pytest.fixture
def conversation(tenant):
    customer = Customer.objects.create(tenant=tenant, phone="+59894807926", name="Gabriel")
    conversation = Conversation.objects.create(tenant=tenant, customer=customer, channel="whatsapp")
    Message.objects.create(tenant=tenant, conversation=conversation, direction="in", channel="whatsapp", text="hola")
    return conversation


def test_n8n_gets_signed_json_once_even_when_the_task_runs_twice(settings, provider, conversation):
    settings.OUTBOUND_CHANNEL = "n8n"
    settings.N8N_OUTBOUND_URL = provider.url + "/webhook/bmc"
    settings.N8N_WEBHOOK_SECRET = "s3cret"
    reply = outbound_reply_create(
        conversation=conversation, text="Hola Gabriel", document_url="http://x/q.pdf", idempotency_key="k1"
    )
    assert outbound_send(tenant_id=reply.tenant_id, message_id=reply.pk) == "sent"
    assert outbound_send(tenant_id=reply.tenant_id, message_id=reply.pk) == "sent"  # redelivered task
    assert outbound_reply_create(conversation=conversation, text="Hola Gabriel", idempotency_key="k1").pk == reply.pk
    (request,) = provider.requests
    expected = hmac.new(b"s3cret", request["raw"], hashlib.sha256).hexdigest()
    assert request["headers"]["X-BMC-Signature"] == f"sha256={expected}"
    assert request["json"]["to"] == "+59894807926" and request["json"]["document_url"] == "http://x/q.pdf"


def test_whatsapp_text_document_and_template_outside_the_window(settings, provider, conversation):
    settings.OUTBOUND_CHANNEL = "whatsapp"
    settings.WHATSAPP_API_BASE = provider.url + "/v21.0"
    settings.WHATSAPP_TOKEN, settings.WHATSAPP_PHONE_NUMBER_ID = "tok", "301822446011907"
    text = outbound_reply_create(conversation=conversation, text="Hola")
    document = outbound_reply_create(conversation=conversation, text="Tu cotización", document_url="http://x/q.pdf")
    assert (
        outbound_send(tenant_id=text.tenant_id, message_id=text.pk)
        == outbound_send(tenant_id=document.tenant_id, message_id=document.pk)
        == "sent"
    )
    Message.objects.filter(direction="in").update(created_at=timezone.now() - timedelta(hours=25))
    late = outbound_reply_create(conversation=conversation, text="¿Seguís interesado?")
    outbound_send(tenant_id=late.tenant_id, message_id=late.pk)
    kinds = [r["json"]["type"] for r in provider.requests]
    assert kinds == ["text", "document", "template"]
    first = provider.requests[0]
    assert first["path"] == "/v21.0/301822446011907/messages" and first["headers"]["Authorization"] == "Bearer tok"
    assert first["json"]["to"] == "59894807926" and provider.requests[1]["json"]["document"]["link"] == "http://x/q.pdf"
    text.refresh_from_db()
    assert text.external_id == "wamid.1" and text.delivery_status == "sent"


def test_a_company_with_its_own_number_sends_from_it(settings, provider, conversation):
    settings.OUTBOUND_CHANNEL = "whatsapp"
    settings.WHATSAPP_API_BASE = provider.url + "/v21.0"
    settings.WHATSAPP_TOKEN, settings.WHATSAPP_PHONE_NUMBER_ID = "tok", "301822446011907"
    type(conversation.tenant).objects.filter(pk=conversation.tenant_id).update(whatsapp_phone_number_id="42424242")
    assert (
        outbound_send(
            tenant_id=conversation.tenant_id,
            message_id=outbound_reply_create(conversation=conversation, text="Hola").pk,
        )
        == "sent"
    )
    assert provider.requests[0]["path"] == "/v21.0/42424242/messages"


def test_another_company_without_a_number_never_sends_from_the_default_one(settings, provider, conversation):
    from bmc.conversations.models import Conversation
    from bmc.core.models import Tenant

    settings.OUTBOUND_CHANNEL = "whatsapp"
    settings.WHATSAPP_API_BASE = provider.url + "/v21.0"
    settings.WHATSAPP_TOKEN, settings.WHATSAPP_PHONE_NUMBER_ID = "tok", "301822446011907"
    other = Tenant.objects.create(slug="frio", name="Frío SRL")
    customer = type(conversation.customer).objects.create(tenant=other, phone="+59899000111", name="Eva")
    elsewhere = Conversation.objects.create(tenant=other, customer=customer)
    reply = outbound_reply_create(conversation=elsewhere, text="Hola")
    assert outbound_send(tenant_id=reply.tenant_id, message_id=reply.pk) == "failed"
    reply.refresh_from_db()
    assert reply.error_code == "not_configured" and provider.requests == []


def test_transient_errors_retry_and_permanent_ones_fail_with_their_code(settings, provider, conversation):
    settings.OUTBOUND_CHANNEL = "whatsapp"
    settings.WHATSAPP_API_BASE = provider.url
    settings.WHATSAPP_TOKEN, settings.WHATSAPP_PHONE_NUMBER_ID = "tok", "1"
    message = outbound_reply_create(conversation=conversation, text="Hola")
    provider.responses = [
        (503, {"error": {"message": "busy"}}),
        (400, {"error": {"code": 131026, "message": "undeliverable"}}),
    ]
    with pytest.raises(TransientSendError):
        outbound_send(tenant_id=message.tenant_id, message_id=message.pk)
    message.refresh_from_db()
    assert message.delivery_status == "pending"  # free for the retry
    assert outbound_send(tenant_id=message.tenant_id, message_id=message.pk) == "failed"
    message.refresh_from_db()
    assert (message.delivery_status, message.error_code, message.send_attempts) == ("failed", "131026", 2)


def test_nothing_goes_to_a_customer_who_opted_out_but_the_confirmation(conversation):
    Customer.objects.filter(pk=conversation.customer_id).update(opted_out=True)
    blocked = outbound_reply_create(conversation=conversation, text="Promo")
    assert outbound_send(tenant_id=blocked.tenant_id, message_id=blocked.pk) == "failed"
    confirmation = outbound_reply_create(conversation=conversation, text="No te escribimos más")
    Message.objects.filter(pk=confirmation.pk).update(raw_payload={"opt_out_confirmation": True})
    assert outbound_send(tenant_id=confirmation.tenant_id, message_id=confirmation.pk) == "sent"


def test_a_send_refused_outside_the_window_becomes_a_staff_task(settings, provider, conversation):
    from bmc.sales.models import StaffTask

    settings.OUTBOUND_CHANNEL = "whatsapp"
    settings.WHATSAPP_API_BASE = provider.url
    settings.WHATSAPP_TOKEN, settings.WHATSAPP_PHONE_NUMBER_ID = "tok", "1"
    provider.responses = [(400, {"error": {"code": 131047, "message": "Re-engagement message"}})]
    message = outbound_reply_create(conversation=conversation, text="¿Pudiste ver la cotización?")
    assert outbound_send(tenant_id=message.tenant_id, message_id=message.pk) == "failed"
    (task,) = StaffTask.objects.all()
    assert (task.kind, task.message_id, task.customer_id) == ("reengage", message.pk, conversation.customer_id)
    assert task.title == "Contactar a Gabriel: WhatsApp no entregó el mensaje"


def test_what_staff_read_is_spanish_even_when_an_english_request_reports_the_failure(conversation):
    """WhatsApp's status webhook (an API request, which speaks English) may be what says a message
    failed: the task it opens is still written in the staff's language."""
    from bmc.sales.models import StaffTask

    message = outbound_reply_create(conversation=conversation, text="¿Pudiste ver la cotización?")
    with translation.override("en"):
        outbound_failed(message=message, error_code="131047")
    (task,) = StaffTask.objects.all()
    assert task.title == "Contactar a Gabriel: WhatsApp no entregó el mensaje"
    assert task.detail.endswith(
        "Llamalo o mandale la plantilla aprobada.\n\nMensaje no entregado:\n¿Pudiste ver la cotización?"
    )


def test_a_follow_up_outside_the_window_goes_as_the_policy_template_with_its_values(settings, provider, conversation):
    settings.OUTBOUND_CHANNEL = "whatsapp"
    settings.WHATSAPP_API_BASE = provider.url
    settings.WHATSAPP_TOKEN, settings.WHATSAPP_PHONE_NUMBER_ID = "tok", "1"
    Message.objects.filter(direction="in").update(created_at=timezone.now() - timedelta(hours=30))
    message = outbound_reply_create(
        conversation=conversation,
        text="¡Hola, Gabriel! ¿Pudiste ver la cotización COT-000007?",
        extra={
            "template": {
                "name": "seguimiento_cotizacion",
                "language": "es",
                "params": ["Gabriel", "COT-000007", "USD 1.816,95"],
            }
        },
    )
    assert outbound_send(tenant_id=message.tenant_id, message_id=message.pk) == "sent"
    (request,) = provider.requests
    assert request["json"]["template"] == {
        "name": "seguimiento_cotizacion",
        "language": {"code": "es"},
        "components": [
            {
                "type": "body",
                "parameters": [
                    {"type": "text", "text": "Gabriel"},
                    {"type": "text", "text": "COT-000007"},
                    {"type": "text", "text": "USD 1.816,95"},
                ],
            }
        ],
    }


def test_a_reply_the_channel_keeps_refusing_is_given_up_for_a_person(settings, provider, conversation):
    from agents.conversations.recovery import messages_given_up
    from bmc.sales.models import StaffTask

    settings.OUTBOUND_CHANNEL = "whatsapp"
    settings.WHATSAPP_API_BASE = provider.url
    settings.WHATSAPP_TOKEN, settings.WHATSAPP_PHONE_NUMBER_ID = "tok", "1"
    message = outbound_reply_create(conversation=conversation, text="Te paso la cotización")
    provider.responses = [(503, {"error": {"message": "busy"}})] * 3
    for _ in range(3):
        with pytest.raises(TransientSendError):
            outbound_send(tenant_id=message.tenant_id, message_id=message.pk)
    assert messages_given_up(max_attempts=4) == []  # three tries: the reaper sends it again later
    assert messages_given_up(max_attempts=3) == [message.pk]
    message.refresh_from_db()
    assert (message.delivery_status, message.error_code) == ("failed", "gave_up")
    (task,) = StaffTask.objects.filter(kind="send_failed")
    assert (
        task.message_id == message.pk
        and task.detail == "Error gave_up fallaron 3 envíos. Mensaje:\nTe paso la cotización"
    )
    assert messages_given_up(max_attempts=3) == []  # once


def test_a_message_of_the_agents_own_is_never_sent_unchecked(conversation, monkeypatch):
    """Outbound knows a follow-up by its origin, and asks the follow-up agent's guard; with no
    guard registered it refuses to send rather than send unchecked."""
    from agents import outbound as sender

    monkeypatch.delitem(sender.SEND_GUARDS, "followup")
    message = outbound_reply_create(
        conversation=conversation, text="¿Pudiste ver la cotización?", origin=("followup", 1)
    )
    with pytest.raises(RuntimeError, match="no send guard registered for followup"):
        outbound_send(tenant_id=conversation.tenant_id, message_id=message.pk)
