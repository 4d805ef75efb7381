"""The staff workspace as a seller and an operator use it: the home's counts and chart figures,
the inbox (needs a reply, unread, mine, search), a thread (take over, reply, hand back, assign),
a customer's page, and who sees what."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agents.tenants import system_bootstrap
from bmc.conversations.models import Conversation, Customer, Message
from bmc.jobs.models import AgentTask
from bmc.sales.models import Invoice, StaffTask
from tests.agents.conversations.dialogue import say
from tests.agents.orders.test_orders import REQUEST

pytestmark = pytest.mark.django_db


@pytest.fixture
def seller(client, tenant):
    system_bootstrap()
    user = get_user_model().objects.create_user("lucia", password="clave-segura-1", is_staff=True, first_name="Lucía")
    user.groups.add(Group.objects.get(name="sales"))
    client.force_login(user)
    return user


def _conversation(tenant, phone: str, name: str = "", **fields) -> Conversation:
    customer = Customer.objects.create(tenant=tenant, phone=phone, name=name)
    return Conversation.objects.create(tenant=tenant, customer=customer, last_message_at=timezone.now(), **fields)


def _said(conversation: Conversation, direction: str, text: str) -> Message:
    return Message.objects.create(
        tenant=conversation.tenant, conversation=conversation, direction=direction, channel="whatsapp", text=text
    )


def test_the_home_says_what_waits_and_draws_the_period_from_the_database(client, seller, tenant):
    waiting = _conversation(tenant, "+59899000001", "Ana", state=Conversation.State.HANDOFF, assigned_to=seller)
    _said(waiting, "in", "¿me llaman?")
    quoted = _conversation(tenant, "+59899000002", "Bruno")
    say(quoted, REQUEST)
    Invoice.objects.create(
        tenant=tenant,
        customer=quoted.customer,
        number="A-1",
        amount=Decimal("1816.95"),
        issue_date=timezone.localdate() - timedelta(days=40),
        due_date=timezone.localdate() - timedelta(days=10),
    )
    StaffTask.objects.create(
        tenant=tenant, kind="handoff", title="x", dedupe_key="t1", conversation=waiting, assigned_to=seller
    )

    with CaptureQueriesContext(connection) as queries:
        page = client.get("/admin/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Lo que espera a una persona" in html
    waiting_counts = page.context["waiting"]
    assert waiting_counts["conversations_with_staff"] == 1 and waiting_counts["conversations_mine"] == 1
    assert waiting_counts["invoices_overdue"] == 1 and waiting_counts["invoices_overdue_balance"] == Decimal("1816.95")
    assert waiting_counts["tasks"]["open"] == 1 and waiting_counts["tasks"]["mine"] == 1
    assert "1.816,95" in html  # es-UY money
    charts = json.loads(_json_script(html, "chart-data"))
    assert sum(day["count"] for day in charts["quotes_per_day"]) == 1
    assert [stage["count"] for stage in charts["funnel"]][:2] == [2, 1]
    assert charts["by_family"][0]["group"] == "ISODEC EPS" and charts["by_family"][0]["quoted"] == 1816.95
    assert charts["by_zone"][0]["group"] == "Montevideo"
    assert charts["reply_time"] and charts["reply_time"][0]["count"] >= 1
    # figures by aggregate queries, not one per row
    assert len(queries) < 40, [q["sql"] for q in queries]
    assert "chart-4.6.1.umd.min.js" in html and "cdn" not in html.lower()


def _json_script(html: str, element_id: str) -> str:
    start = html.index(f'id="{element_id}"')
    return html[html.index(">", start) + 1 : html.index("</script>", start)]


def test_the_inbox_marks_what_needs_a_reply_and_what_is_unread(client, seller, tenant):
    mine = _conversation(tenant, "+59899123456", "Carla", state=Conversation.State.HANDOFF, assigned_to=seller)
    _said(mine, "in", "Necesito techar un galpón en Tacuarembó")
    other = _conversation(tenant, "+59899000777", "Diego")
    _said(other, "in", "hola")
    _said(other, "out", "¡Hola! ¿En qué te ayudo?")

    rows = list(client.get("/admin/bandeja/").context["rows"])
    assert [row.pk for row in rows] == [mine.pk, other.pk]  # mine first
    assert rows[0].needs_reply and rows[0].unread and not rows[1].needs_reply

    client.get(f"/admin/bandeja/{mine.pk}/")
    assert not client.get("/admin/bandeja/").context["rows"][0].unread  # read once opened
    assert [r.pk for r in client.get("/admin/bandeja/", {"ver": "mine"}).context["rows"]] == [mine.pk]
    assert [r.pk for r in client.get("/admin/bandeja/", {"ver": "reply"}).context["rows"]] == [mine.pk]
    # a phone as written locally, and words of a message
    assert [r.pk for r in client.get("/admin/bandeja/", {"q": "099 123 456"}).context["rows"]] == [mine.pk]
    assert [r.pk for r in client.get("/admin/bandeja/", {"q": "galpón"}).context["rows"]] == [mine.pk]
    assert [r.pk for r in client.get("/admin/bandeja/", {"q": "Diego"}).context["rows"]] == [other.pk]
    fragment = client.get("/admin/bandeja/", {"parte": "filas"})
    assert b"<html" not in fragment.content and b"necesita respuesta" in fragment.content


def test_a_seller_takes_over_replies_and_hands_back(client, seller, tenant):
    conversation = _conversation(tenant, "+59899000003", "Elena")
    _said(conversation, "in", "quiero hablar con alguien")
    url = f"/admin/bandeja/{conversation.pk}/accion/"

    task = StaffTask.objects.create(
        tenant=tenant,
        kind="handoff",
        title="Un cliente necesita una persona",
        dedupe_key="t2",
        conversation=conversation,
    )
    assert client.post(url, {"action": "take_over"}).status_code == 302
    conversation.refresh_from_db()
    assert conversation.state == "handoff" and conversation.assigned_to == seller
    task.refresh_from_db()
    assert task.assigned_to == seller  # the task that asked for a person is the taker's
    other_task = StaffTask.objects.create(tenant=tenant, kind="reengage", title="Llamar", dedupe_key="t3")
    tasks = client.get("/admin/sales/stafftask/").context["cl"].result_list
    assert [t.pk for t in tasks] == [task.pk, other_task.pk]  # mine first
    assert [t.pk for t in client.get("/admin/sales/stafftask/", {"asignada": "mias"}).context["cl"].result_list] == [
        task.pk
    ]

    client.post(url, {"action": "reply", "text": "Hola Elena, soy Lucía. ¿Qué necesitás?"})
    reply = conversation.messages.get(direction="out")
    assert reply.raw_payload["staff"] == "lucia" and reply.delivery_status == "pending"
    assert AgentTask.objects.get(task_type="outbound.send_message").payload == {"message_id": reply.pk}
    page = client.get(f"/admin/bandeja/{conversation.pk}/").content.decode()
    assert "Hola Elena, soy Lucía" in page and "ws-staff" in page

    assert "vacío" in client.post(url, {"action": "reply", "text": "  "}, follow=True).content.decode()
    assert conversation.messages.filter(direction="out").count() == 1

    other = get_user_model().objects.create_user("martin", is_staff=True)
    client.post(url, {"action": "assign", "user": other.pk})
    conversation.refresh_from_db()
    assert conversation.assigned_to == other

    client.post(url, {"action": "hand_back"})
    conversation.refresh_from_db()
    assert conversation.state == "open" and conversation.assigned_to is None


def test_a_customer_page_shows_zone_history_and_totals(client, seller, tenant):
    conversation = _conversation(tenant, "+59899111222", "Fabián")
    say(conversation, REQUEST)
    page = client.get(f"/admin/clientes/{conversation.customer_id}/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "Montevideo" in html  # said in the quote's spec, not on the record
    assert "1.816,95" in html and "COT-" in html
    assert "ISODEC EPS 100 mm" in html  # the spec as a sentence, not JSON
    assert "{&quot;" not in html and '{"' not in html


def test_sales_see_sales_and_operations_see_the_machinery(client, seller, tenant):
    index = client.get("/admin/").content.decode()
    assert "/admin/jobs/" not in index and "/admin/django_celery_beat/" not in index
    assert client.get("/admin/operaciones/").status_code == 403

    operator = get_user_model().objects.create_user("ops", password="x", is_staff=True)
    operator.groups.add(Group.objects.get(name="operations"))
    client.force_login(operator)
    home = client.get("/admin/")
    assert home.status_code == 200 and "/admin/jobs/" in home.content.decode()
    assert "data-queue" in home.content.decode()  # the operations home: queue depths


def test_the_admin_finds_what_staff_type(client, seller, tenant):
    conversation = _conversation(tenant, "+59899123456", "Gabriela")
    quote_id = say(conversation, REQUEST).quotes[0]
    other = _conversation(tenant, "+59899000999", "Hugo")
    _said(other, "in", "Quiero techar el galpón de la chacra")

    def found(url: str, term: str) -> list[int]:
        return [row.pk for row in client.get(url, {"q": term}).context["cl"].result_list]

    assert found("/admin/quotes/quote/", f"COT-{quote_id:06d}") == [quote_id]
    assert found("/admin/quotes/quote/", f"cot {quote_id}") == [quote_id]
    assert found("/admin/quotes/quote/", "099 123 456") == [quote_id]
    assert found("/admin/conversations/customer/", "099 123 456") == [conversation.customer_id]
    assert found("/admin/conversations/customer/", "0 99 000 999") == [other.customer_id]
    assert found("/admin/conversations/conversation/", "galpón chacra") == [other.pk]
    assert found("/admin/conversations/conversation/", "Gabriela") == [conversation.pk]
    assert found("/admin/conversations/message/", "099000999") == list(other.messages.values_list("pk", flat=True))


def test_specs_and_dialogues_read_as_sentences_in_the_admin(client, seller, tenant):
    conversation = _conversation(tenant, "+59899222333", "Inés")
    quote_id = say(conversation, REQUEST).quotes[0]
    operator = get_user_model().objects.create_superuser("jefa", "jefa@example.com", "x")
    client.force_login(operator)

    quote = client.get(f"/admin/quotes/quote/{quote_id}/change/").content.decode()
    assert "Pidió</dt><dd>ISODEC EPS 100 mm, techo de 6 × 4,48 m" in quote
    dialogue = client.get(f"/admin/conversations/conversation/{conversation.pk}/change/").content.decode()
    assert "Espera</dt><dd>nada: se puede cotizar" in dialogue
    assert "<summary>Tal como está guardado</summary>" in dialogue  # the JSON folded beneath


def test_a_document_batch_summary_reads_as_counts(client, tenant):
    from bmc.documents.models import DocumentBatch

    batch = DocumentBatch.objects.create(
        tenant=tenant,
        name="Facturas de noviembre",
        status="done",
        total=3,
        summary={
            "documents": 3,
            "by_status": {"done": 2, "failed": 1},
            "by_kind": {"invoice": 2, "unread": 1},
            "to_review": 1,
            "quality": 0.874,
            "findings": ["La factura A-12 no coincide con el pedido PED-000004"],
        },
    )
    client.force_login(get_user_model().objects.create_superuser("jefa", "jefa@example.com", "x"))
    page = client.get(f"/admin/documents/documentbatch/{batch.pk}/change/").content.decode()
    assert "<dt>Documentos</dt><dd>3</dd>" in page and "<dt>Para revisar</dt><dd>1</dd>" in page
    assert "<dt>Confianza promedio</dt><dd>87 %</dd>" in page and "<dt>sin reconocer</dt><dd>1</dd>" in page
    assert "La factura A-12 no coincide" in page
