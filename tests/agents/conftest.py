"""The conversation every test of a turn (and of the agents a turn asks) starts from."""

from __future__ import annotations

import pytest

from agents.tenants import system_bootstrap
from bmc.conversations.models import Conversation, Customer


@pytest.fixture
def conversation(tenant):
    system_bootstrap()
    customer = Customer.objects.create(tenant=tenant, phone="+59899111222", name="Ana Gomez")
    return Conversation.objects.create(tenant=tenant, customer=customer)
