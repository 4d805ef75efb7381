"""A customer's data erased on request: no trace of their phone, name or e-mail left in any table
of the database, while the totals and counts their records make stay."""

from __future__ import annotations

import hashlib
import hmac
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Group, User
from django.contrib.contenttypes.models import ContentType
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse

from agents.conversations.turn import conversation_turn
from agents.erasure import customer_erase
from agents.events import event_emit
from agents.staff import staff_task_open
from agents.tenants import system_bootstrap
from bmc.conversations.models import Conversation, Customer, CustomerErasure, InboundPayload, Message
from bmc.core.models import Tenant
from bmc.documents.models import Document, DocumentBatch, DocumentBlob
from bmc.jobs.models import AgentMessage, AgentTask
from bmc.quotes.models import Quote
from bmc.sales.models import FollowUp, Invoice, StaffTask
from bmc.workspace.staff import SALES

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "whatsapp"
SECRET = "test-app-secret"
PHONE = "+59894807926"  # Gabriel Suarez, in tests/fixtures/whatsapp/text_message.json
NAME = "Gabriel Suarez"
EMAIL = "gabriel.suarez@example.com"
# the phone as any record may write it (+59894807926, 59894807926, 094807926, 094 807 926)
TRACES = ("94807926", "94 807 926", "gabriel", "suarez", EMAIL)


def whatsapp_post(client, name: str) -> None:
    body = (FIXTURES / name).read_bytes()
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    response = client.post(
        "/api/v1/webhooks/whatsapp", body, content_type="application/json", HTTP_X_HUB_SIGNATURE_256=signature
    )
    assert response.status_code == 200, response.content


def tables_mentioning(text: str) -> dict[str, int]:
    """Every table of the database whose rows, read as text, hold `text` (any case)."""
    found = {}
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            quoted = connection.ops.quote_name(table)
            cursor.execute(f"SELECT count(*) FROM {quoted} AS t WHERE t::text ILIKE %s", [f"%{text}%"])
            if count := cursor.fetchone()[0]:
                found[table] = count
    return found


@pytest.fixture
def gabriel(client, tenant, settings):
    """Gabriel writes on WhatsApp and is quoted; staff, agents and the admin leave his phone, name
    and e-mail in many places; another customer, Ana, writes too."""
    if connection.vendor != "postgresql":
        pytest.skip("reads every row as text the PostgreSQL way")
    settings.WHATSAPP_APP_SECRET = SECRET
    system_bootstrap()
    whatsapp_post(client, "text_message.json")  # stored raw, then as his message
    customer = Customer.objects.get(tenant=tenant, phone=PHONE)
    Customer.objects.filter(pk=customer.pk).update(email=EMAIL)
    conversation = Conversation.objects.get(customer=customer)
    result = conversation_turn(tenant_id=tenant.pk, conversation_id=conversation.pk, public_base_url="https://bmc.test")
    quote = Quote.objects.get(pk=result.quotes[0])
    Quote.objects.filter(pk=quote.pk).update(status=Quote.Status.SENT)
    inbound = Message.objects.filter(conversation=conversation, direction="in").first()
    Message.objects.create(
        tenant=tenant,
        conversation=conversation,
        direction="in",
        channel="whatsapp",
        text=f"mi mail es {EMAIL}, mandame la factura a Gabriel Suarez, Av. Italia 2525",
        raw_payload={"type": "text", "from": PHONE.lstrip("+"), "contacts": [{"profile": {"name": NAME}}]},
        external_id="wamid.second",
    )
    invoice = Invoice.objects.create(
        tenant=tenant,
        customer=customer,
        number="F-77",
        amount=Decimal("1816.95"),
        issue_date=date(2026, 11, 1),
        due_date=date(2026, 11, 30),
        notes=f"cliente {NAME}, tel {PHONE}",
    )
    staff_task_open(
        tenant_id=tenant.pk,
        kind=StaffTask.Kind.HANDOFF,
        dedupe_key=f"handoff:{conversation.pk}",
        title=f"{NAME} quiere hablar con una persona",
        detail="llamar al 094 807 926",
        customer_id=customer.pk,
        conversation_id=conversation.pk,
    )
    task = AgentTask.objects.create(
        tenant=tenant,
        task_type="conversation.process_message",
        agent="conversation",
        queue="conversation",
        payload={"from": PHONE, "name": NAME, "text": "hola"},
        trace_id="trace-1",
    )
    AgentMessage.objects.create(
        tenant=tenant,
        from_agent="api",
        to_agent="conversation",
        type="request",
        intent="conversation.process_message",
        payload={"from": PHONE.lstrip("+"), "profile": {"name": NAME}},
        task=task,
        trace_id="trace-1",
        span_id="s1",
    )
    event_emit(tenant=tenant, type="lead.created", subject=f"customer:{customer.pk}", data={"phone": PHONE})
    admin = User.objects.create_superuser("boss", "boss@bmc.test", "x")
    LogEntry.objects.create(
        user=admin,
        content_type=ContentType.objects.get_for_model(Customer),
        object_id=str(customer.pk),
        object_repr=str(customer)[:200],
        action_flag=CHANGE,
        change_message="[]",
    )
    receipt = b"%PDF-1.4 Recibo de transferencia - Gabriel Suarez - 094807926"
    blob = DocumentBlob.objects.create(sha256=hashlib.sha256(receipt).hexdigest(), content=receipt, size=len(receipt))
    batch = DocumentBatch.objects.create(tenant=tenant, source="whatsapp", status="done", total=1)
    Document.objects.create(
        tenant=tenant,
        batch=batch,
        filename="recibo_gabriel_suarez.pdf",
        blob=blob,
        sha256=blob.sha256,
        size=len(receipt),
        message=inbound,
        text="Recibo de transferencia Gabriel Suarez 094807926",
        fields={"total": "1816.95", "payer": NAME},
    )
    ana = Customer.objects.create(tenant=tenant, phone="+59899111222", name="Ana Gomez")
    ana_conversation = Conversation.objects.create(tenant=tenant, customer=ana)
    Message.objects.create(
        tenant=tenant, conversation=ana_conversation, direction="in", channel="whatsapp", text="hola, soy Ana"
    )
    return {"customer": customer, "quote": quote, "invoice": invoice, "admin": admin}


def totals(customer: Customer) -> dict:
    return {
        "quotes": list(Quote.objects.filter(customer=customer).values_list("pk", "total", "subtotal", "iva")),
        "invoices": list(Invoice.objects.filter(customer=customer).values_list("pk", "amount", "status")),
        "conversations": Conversation.objects.filter(customer=customer).count(),
        "messages": Message.objects.filter(conversation__customer=customer).count(),
        "inbound": Message.objects.filter(conversation__customer=customer, direction="in").count(),
        "intents": sorted(Message.objects.filter(conversation__customer=customer).values_list("intent", flat=True)),
        "tasks": AgentTask.objects.count(),
        "staff_tasks": StaffTask.objects.filter(customer=customer).count(),
        "payloads": InboundPayload.objects.count(),
        "documents": Document.objects.count(),
    }


def test_erasure_leaves_no_trace_of_the_customer_in_any_table_and_keeps_the_totals(gabriel):
    customer = gabriel["customer"]
    for trace in TRACES:  # the test would prove nothing if they were not there to begin with
        assert tables_mentioning(trace), trace
    before = totals(customer)

    record = customer_erase(customer=customer, via="manage.py erase_customer", erased_by=gabriel["admin"])

    for trace in TRACES:
        assert tables_mentioning(trace) == {}, trace
    assert totals(customer) == before
    customer.refresh_from_db()
    assert (customer.phone, customer.name, customer.email) == (f"erased-{customer.pk}", "", "")
    assert customer.opted_out  # nothing is ever sent to the placeholder
    assert not FollowUp.objects.filter(customer=customer, status__in=FollowUp.OPEN).exists()
    assert not DocumentBlob.objects.exists()  # his receipt's bytes
    erased = Message.objects.filter(conversation__customer=customer, direction="in", text="", external_id=None)
    assert erased.count() == before["inbound"] == 2
    # the erasure is recorded: who, how, which customer, how much; nothing personal
    assert (record.customer_id, record.erased_by, record.via) == (
        customer.pk,
        gabriel["admin"],
        "manage.py erase_customer",
    )
    assert record.counts["messages"] == before["messages"] and record.counts["customer"] == 1
    # someone else's data is theirs
    assert Customer.objects.get(phone="+59899111222").name == "Ana Gomez"
    assert Message.objects.filter(text="hola, soy Ana").exists()


def test_erasing_twice_changes_nothing_and_records_once(gabriel):
    customer = gabriel["customer"]
    first = customer_erase(customer=customer, via="admin")
    again = customer_erase(customer=Customer.objects.get(pk=customer.pk), via="admin")
    assert again.pk == first.pk
    assert CustomerErasure.objects.count() == 1


def test_another_companys_customer_with_the_same_phone_is_theirs(tenant):
    other = Tenant.objects.create(slug="frio", name="Frío SRL")
    mine = Customer.objects.create(tenant=tenant, phone=PHONE, name=NAME)
    theirs = Customer.objects.create(tenant=other, phone=PHONE, name=NAME)
    Conversation.objects.create(tenant=other, customer=theirs)
    InboundPayload.objects.create(tenant=other, source="whatsapp", body=f'{{"from": "{PHONE}"}}', outcome="accepted")
    customer_erase(customer=mine, via="admin")
    theirs.refresh_from_db()
    assert (theirs.phone, theirs.name) == (PHONE, NAME)
    assert InboundPayload.objects.get(tenant=other).body == f'{{"from": "{PHONE}"}}'


def test_the_command_erases_by_phone_as_staff_write_it_or_by_id(tenant, capsys):
    customer = Customer.objects.create(tenant=tenant, phone=PHONE, name=NAME)
    other = Customer.objects.create(tenant=tenant, phone="+59899111222", name="Ana Gomez")
    call_command("erase_customer", "094 807 926", "--tenant", "bmc")
    assert "erased" in capsys.readouterr().out
    assert Customer.objects.get(pk=customer.pk).phone == f"erased-{customer.pk}"
    call_command("erase_customer", str(customer.pk))
    assert "already erased" in capsys.readouterr().out
    call_command("erase_customer", str(other.pk))
    assert Customer.objects.get(pk=other.pk).name == ""
    assert CustomerErasure.objects.filter(via="manage.py erase_customer").count() == 2
    with pytest.raises(CommandError, match="no customer"):
        call_command("erase_customer", "+59899000000")
    with pytest.raises(CommandError, match="no company"):
        call_command("erase_customer", "1", "--tenant", "nope")


def test_the_admin_action_erases_the_selected_customers_for_whoever_may_delete_them(admin_client, tenant):
    system_bootstrap()
    customer = Customer.objects.create(tenant=tenant, phone=PHONE, name=NAME)
    changelist = reverse("admin:conversations_customer_changelist")
    response = admin_client.post(
        changelist, {"action": "erase_personal_data", "_selected_action": [customer.pk]}, follow=True
    )
    assert "Se borraron los datos personales de 1 cliente" in response.content.decode()
    customer.refresh_from_db()
    assert customer.name == "" and customer.phone == f"erased-{customer.pk}"
    record = CustomerErasure.objects.get(customer=customer)
    assert (record.via, record.erased_by.username) == ("admin", "admin")
    erasures = admin_client.get(reverse("admin:conversations_customererasure_changelist"))
    assert erasures.status_code == 200

    seller = User.objects.create_user("seller", password="x", is_staff=True)
    seller.groups.add(*Group.objects.filter(name=SALES))
    admin_client.force_login(seller)
    page = admin_client.get(changelist)
    assert page.status_code == 200 and "erase_personal_data" not in page.content.decode()
