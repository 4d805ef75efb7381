"""The staff pages' WebSockets: only a logged-in staff member is let in, hears of their own
company's conversations and no other's, and only operations get the stats stream. The channel
layer is the real one (channels-redis on the test Redis)."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser, Group

from agents.tenants import system_bootstrap
from bmc.asgi import application
from bmc.conversations.models import Conversation, Customer, Message
from bmc.workspace.consumers import InboxConsumer, StatsConsumer
from bmc.workspace.models import StaffMember

pytestmark = pytest.mark.django_db(transaction=True)


def _staff(username: str, group: str, tenant=None):
    user = get_user_model().objects.create_user(username, password="x", is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    if tenant is not None:
        StaffMember.objects.create(user=user, tenant=tenant)
    return user


def _message(tenant, phone: str, text: str) -> Message:
    customer = Customer.objects.create(tenant=tenant, phone=phone)
    conversation = Conversation.objects.create(tenant=tenant, customer=customer)
    return Message.objects.create(
        tenant=tenant, conversation=conversation, direction="in", channel="whatsapp", text=text
    )


async def _connect(consumer, path: str, user) -> tuple[WebsocketCommunicator, bool, int | None]:
    communicator = WebsocketCommunicator(consumer.as_asgi(), path)
    communicator.scope["user"] = user
    connected, code = await communicator.connect(timeout=5)
    return communicator, connected, code


def test_a_seller_hears_of_their_company_only(tenant, other_tenant):
    system_bootstrap()
    seller = _staff("lucia", "sales")  # no StaffMember: the default company (`tenant`)
    outsider = _staff("otro", "sales", tenant=other_tenant)

    async def scenario():
        ours, connected, _ = await _connect(InboxConsumer, "/ws/inbox", seller)
        assert connected
        theirs, connected, _ = await _connect(InboxConsumer, "/ws/inbox", outsider)
        assert connected
        message = await database_sync_to_async(_message)(tenant, "+59899000001", "hola")
        opened = await ours.receive_json_from(timeout=5)  # the new conversation, then its message
        assert opened == {"type": "state", "conversation": message.conversation_id, "message": None}
        event = await ours.receive_json_from(timeout=5)
        assert event == {"type": "message", "conversation": message.conversation_id, "message": message.pk}
        assert await theirs.receive_nothing(timeout=0.5)  # another company's browser hears nothing
        await ours.disconnect()
        await theirs.disconnect()

    async_to_sync(scenario)()


def test_strangers_are_turned_away(tenant):
    system_bootstrap()
    seller = _staff("lucia", "sales")
    operator = _staff("ops", "operations")
    customer_like = get_user_model().objects.create_user("cliente", password="x")  # not staff

    async def scenario():
        _, connected, code = await _connect(InboxConsumer, "/ws/inbox", AnonymousUser())
        assert (connected, code) == (False, 4401)
        _, connected, code = await _connect(InboxConsumer, "/ws/inbox", customer_like)
        assert (connected, code) == (False, 4401)
        _, connected, code = await _connect(StatsConsumer, "/ws/stats", seller)
        assert (connected, code) == (False, 4403)
        stats, connected, _ = await _connect(StatsConsumer, "/ws/stats", operator)
        assert connected
        first = await stats.receive_json_from(timeout=10)
        assert first["type"] == "stats" and "conversation" in first["queues"] and "dead" in first["tasks"]
        await stats.disconnect()

    async_to_sync(scenario)()


def test_a_socket_from_another_site_is_refused():
    """The web process's own router: an Origin outside ALLOWED_HOSTS never reaches a consumer."""

    async def scenario():
        communicator = WebsocketCommunicator(application, "/ws/inbox", headers=[(b"origin", b"https://evil.example")])
        connected, _ = await communicator.connect(timeout=5)
        assert not connected

    async_to_sync(scenario)()
