import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse

from agents.tenants import system_bootstrap
from bmc.conversations import models as conversations
from bmc.core import models
from bmc.datasync import models as datasync
from bmc.events import models as events
from bmc.inventory import models as inventory
from bmc.jobs import models as jobs
from bmc.orders import models as orders
from bmc.payments import models as payments
from bmc.quotes import models as quotes
from bmc.workflows import models as workflows

pytestmark = pytest.mark.django_db

MODELS = [
    models.Tenant,
    models.ApiKey,
    conversations.Customer,
    conversations.Conversation,
    conversations.Message,
    quotes.CatalogVersion,
    quotes.Product,
    jobs.AgentTask,
    jobs.AgentMessage,
    quotes.Quote,
    orders.Order,
    payments.Payment,
    inventory.Warehouse,
    inventory.StockLevel,
    inventory.StockMove,
    events.DomainEvent,
    events.EventSubscription,
    workflows.WorkflowDefinition,
    workflows.WorkflowRun,
    datasync.SyncSource,
    datasync.SyncRun,
    datasync.MarketQuestion,
]


@pytest.fixture
def staff(tenant):
    system_bootstrap()
    customer = conversations.Customer.objects.create(tenant=tenant, phone="+59899123456", name="Juan Perez")
    conversation = conversations.Conversation.objects.create(tenant=tenant, customer=customer)
    conversations.Message.objects.create(
        tenant=tenant,
        conversation=conversation,
        direction="in",
        channel="whatsapp",
        text="hola",
        raw_payload={"entry": []},
        external_id="wamid.1",
    )
    datasync.SyncSource.objects.create(tenant=tenant, source="sheets", failures=3, last_error="503")
    datasync.MarketQuestion.objects.create(
        tenant=tenant, source="mercadolibre", question_id="1001", item_id="MLU1", text="factura?", status="staff"
    )
    datasync.SyncRun.objects.create(
        tenant=tenant,
        source="sheets",
        status="held",
        refusals=[{"row": 3, "sku": "ISODEC_EPS_150", "reason": "Row 3: 'price_venta_usd' is required."}],
        held={"reason": "The sheet would remove 25 of the 35 products", "removed": ["ISOROOF_30"], "rows": []},
    )
    return tenant


def test_every_model_has_a_working_admin_list_and_detail(admin_client, staff):
    for model in MODELS:
        meta = model._meta
        url = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
        assert admin_client.get(url).status_code == 200, url
        assert admin_client.get(url, {"q": "juan"}).status_code == 200, url
        obj = model.objects.first()
        if obj is not None:
            detail = reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])
            assert admin_client.get(detail).status_code == 200, detail


def test_audit_records_are_read_only(admin_client, staff):
    from bmc.jobs.submit import task_submit

    task = task_submit(tenant=staff, task_type="ping")
    message = jobs.AgentMessage.objects.get(task=task)
    assert admin_client.get(reverse("admin:jobs_agentmessage_add")).status_code == 403
    assert (
        admin_client.post(reverse("admin:jobs_agentmessage_delete", args=[message.pk]), {"post": "yes"}).status_code
        == 403
    )
    assert admin_client.get(reverse("admin:jobs_agenttask_add")).status_code == 403
    assert jobs.AgentMessage.objects.filter(pk=message.pk).exists()


def test_sales_and_operations_groups_have_fitting_permissions(client, staff):
    sales = User.objects.create_user("vendedor", password="x", is_staff=True)
    sales.groups.add(Group.objects.get(name="sales"))
    client.force_login(sales)
    assert client.get(reverse("admin:conversations_conversation_changelist")).status_code == 200
    assert client.get(reverse("admin:conversations_customer_add")).status_code == 200
    assert client.get(reverse("admin:core_apikey_changelist")).status_code == 403
    assert client.get(reverse("admin:django_celery_beat_periodictask_changelist")).status_code == 403

    ops = User.objects.create_user("operador", password="x", is_staff=True)
    ops.groups.add(Group.objects.get(name="operations"))
    client.force_login(ops)
    assert client.get(reverse("admin:django_celery_beat_periodictask_changelist")).status_code == 200
    assert client.get(reverse("admin:core_apikey_add")).status_code == 200
    assert client.get(reverse("admin:conversations_customer_add")).status_code == 403


def conversation_form(conversation, *, state: str, staff_reply: str = "") -> dict[str, str]:
    """The conversation's admin page as posted, with its message and quote inlines unchanged."""
    return {
        "state": state,
        "assigned_to": "",
        "staff_reply": staff_reply,
        "messages-TOTAL_FORMS": "1",
        "messages-INITIAL_FORMS": "1",
        "messages-MIN_NUM_FORMS": "0",
        "messages-MAX_NUM_FORMS": "1000",
        "messages-0-id": str(conversation.messages.get().pk),
        "messages-0-conversation": str(conversation.pk),
        "quotes-TOTAL_FORMS": "0",
        "quotes-INITIAL_FORMS": "0",
        "quotes-MIN_NUM_FORMS": "0",
        "quotes-MAX_NUM_FORMS": "1000",
    }


def test_staff_take_over_a_conversation_and_reply_by_hand(client, staff, django_capture_on_commit_callbacks):
    seller = User.objects.create_user("vendedor2", password="x", is_staff=True)
    seller.groups.add(Group.objects.get(name="sales"))
    client.force_login(seller)
    conversation = conversations.Conversation.objects.get()
    url = reverse("admin:conversations_conversation_change", args=[conversation.pk])
    form = conversation_form(conversation, state="open", staff_reply="Hola Juan, te llamo en 5 minutos.")
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(url, form)
    assert response.status_code == 302, response.content.decode()[:2000]
    conversation.refresh_from_db()
    assert conversation.state == "handoff" and conversation.assigned_to == seller
    reply = conversation.messages.get(direction="out")
    assert reply.text == "Hola Juan, te llamo en 5 minutos." and reply.delivery_status == "pending"
    assert jobs.AgentTask.objects.filter(task_type="outbound.send_message", payload__message_id=reply.pk).exists()


def test_saving_a_conversation_keeps_what_a_turn_wrote_meanwhile(admin_client, staff, monkeypatch):
    """The admin saves only what staff edit: a turn that took the conversation, or stored its
    dialogue, between the page's load and the save is not undone by stale copies."""
    from django.utils import timezone

    from bmc.conversations.admin import ConversationForm

    conversation = conversations.Conversation.objects.get()
    real_clean = ConversationForm.clean

    def a_turn_runs_meanwhile(form):
        conversations.Conversation.objects.filter(pk=conversation.pk).update(
            turn_owner="turn-x", turn_started_at=timezone.now(), dialogue={"spec": {"family": "ISODEC_EPS"}}
        )
        return real_clean(form)

    monkeypatch.setattr(ConversationForm, "clean", a_turn_runs_meanwhile)
    form = conversation_form(conversation, state="handoff")
    response = admin_client.post(reverse("admin:conversations_conversation_change", args=[conversation.pk]), form)
    assert response.status_code == 302, response.content.decode()[:2000]
    conversation.refresh_from_db()
    assert conversation.state == "handoff"
    assert conversation.turn_owner == "turn-x" and conversation.dialogue == {"spec": {"family": "ISODEC_EPS"}}


def test_a_run_of_wrong_passwords_locks_the_login_even_for_the_right_one(client, db):
    User.objects.create_superuser("marta", "marta@bmc.test", "la-buena-123")
    login = reverse("admin:login")
    for _ in range(30):
        wrong = client.post(login, {"username": "marta", "password": "adivinando"})
        assert wrong.status_code in (200, 429)
    right = client.post(login, {"username": "marta", "password": "la-buena-123"})
    assert right.status_code == 429  # locked: the right password does not get in either
    page = right.content.decode()
    assert "Ingreso bloqueado" in page and "5 contraseñas incorrectas seguidas" in page
    assert "_auth_user_id" not in client.session
    # another user, or this one from elsewhere, is not locked out by it
    User.objects.create_superuser("ana", "ana@bmc.test", "otra-clave-456")
    assert client.post(login, {"username": "ana", "password": "otra-clave-456"}).status_code == 302


def test_the_lock_lifts_by_itself_after_the_cooloff(client, db, settings):
    from datetime import timedelta

    import time_machine
    from django.utils import timezone

    User.objects.create_superuser("marta", "marta@bmc.test", "la-buena-123")
    login = reverse("admin:login")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(login, {"username": "marta", "password": "adivinando"})
    assert client.post(login, {"username": "marta", "password": "la-buena-123"}).status_code == 429
    with time_machine.travel(timezone.now() + settings.AXES_COOLOFF_TIME + timedelta(seconds=1)):
        assert client.post(login, {"username": "marta", "password": "la-buena-123"}).status_code == 302
