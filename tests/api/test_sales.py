"""Follow-up policy, effectiveness, invoices and staff tasks: over the API and in the admin."""

from __future__ import annotations

from datetime import time

import pytest
from django.urls import reverse
from django.utils import translation

from agents.staff import staff_task_open
from bmc.conversations.models import Customer
from bmc.sales.models import FollowUp, FollowUpPolicy, Invoice, StaffTask
from bmc.sales.policy import next_allowed, policy_errors

pytestmark = pytest.mark.django_db


def errors(**overrides) -> dict[str, str]:
    values = dict(
        steps_hours=[24, 48, 72],
        max_attempts=3,
        quiet_start=time(21),
        quiet_end=time(9),
        quiet_weekdays=[6],
        timezone_name="America/Montevideo",
    )
    with translation.override("en"):  # as the API says them (the admin says them in Spanish)
        return policy_errors(**{**values, **overrides})


def test_a_sound_policy_has_no_errors_and_bad_ones_say_what_is_allowed():
    assert errors() == {}
    assert errors(quiet_start=None, quiet_end=None, quiet_weekdays=[]) == {}
    assert "increasing order" in errors(steps_hours=[48, 24, 72])["steps_hours"]
    assert "increasing order" in errors(steps_hours=[24, 24])["steps_hours"]
    assert "positive" in errors(steps_hours=[-24, 48])["steps_hours"]
    assert "list of whole hours" in errors(steps_hours="24,48")["steps_hours"]
    assert "at most 3" in errors(max_attempts=4)["max_attempts"]
    assert "no time to send" in errors(quiet_start=time(9), quiet_end=time(9))["quiet_start"]
    assert "less than an hour" in errors(quiet_start=time(9, 30), quiet_end=time(9))["quiet_start"]
    assert "no time to send" in errors(quiet_weekdays=[0, 1, 2, 3, 4, 5, 6])["quiet_weekdays"]
    assert "0 (Monday) to 6 (Sunday)" in errors(quiet_weekdays=[7])["quiet_weekdays"]
    assert "IANA" in errors(timezone_name="Mars/Olympus")["timezone"]


def test_next_allowed_skips_quiet_hours_and_quiet_days():
    from datetime import datetime
    from zoneinfo import ZoneInfo

    mvd = ZoneInfo("America/Montevideo")
    rules = dict(timezone_name="America/Montevideo", quiet_start=time(21), quiet_end=time(9), quiet_weekdays=[6])
    saturday_night = datetime(2026, 11, 21, 22, 15, tzinfo=mvd)
    assert next_allowed(saturday_night, **rules) == datetime(2026, 11, 23, 9, 0, tzinfo=mvd)  # Monday 09:00
    weekday_noon = datetime(2026, 11, 24, 12, 0, tzinfo=mvd)
    assert next_allowed(weekday_noon, **rules) == weekday_noon


def test_the_policy_is_read_and_changed_over_the_api(api, tenant):
    got = api.get("/api/v1/followups/policy").json()
    assert got["steps_hours"] == [24, 48, 72] and got["quiet_start"] == "21:00:00" and got["quiet_weekdays"] == [6]
    changed = api.patch("/api/v1/followups/policy", {"steps_hours": [4, 24], "max_attempts": 2}, format="json")
    assert changed.status_code == 200 and changed.json()["steps_hours"] == [4, 24]
    assert FollowUpPolicy.objects.get(tenant=tenant).max_attempts == 2


@pytest.mark.parametrize(
    "change, field, words",
    [
        ({"steps_hours": [72, 48, 24]}, "steps_hours", "increasing order"),
        ({"steps_hours": [-1, 24]}, "steps_hours", "positive"),
        ({"quiet_start": "08:00", "quiet_end": "08:00"}, "quiet_start", "no time to send"),
        ({"quiet_weekdays": [0, 1, 2, 3, 4, 5, 6]}, "quiet_weekdays", "no time to send"),
        ({"max_attempts": 5}, "max_attempts", "at most 3"),
        ({"dunning_firm_after_days": 40}, "dunning_staff_after_days", "later than the firm reminder"),
    ],
)
def test_an_unsound_policy_is_refused_naming_the_field(api, tenant, change, field, words):
    before = api.get("/api/v1/followups/policy").json()
    response = api.patch("/api/v1/followups/policy", change, format="json")
    assert response.status_code == 400
    body = response.json()["error"]
    assert words in " ".join(body["fields"][field]) and field in body["message"]
    assert api.get("/api/v1/followups/policy").json() == before  # nothing of it was saved


def test_the_admin_refuses_an_unsound_policy_with_the_same_words(admin_client, tenant):
    policy = FollowUpPolicy.objects.create(tenant=tenant)
    url = reverse("admin:sales_followuppolicy_change", args=[policy.pk])
    page = admin_client.get(url)
    assert page.status_code == 200
    form = {
        "tenant": tenant.pk,
        "enabled": "on",
        "steps_hours": "[48, 24]",
        "max_attempts": 2,
        "expiry_reminder": "on",
        "timezone": "America/Montevideo",
        "quiet_start": "21:00",
        "quiet_end": "09:00",
        "quiet_weekdays": "[6]",
        "whatsapp_template": "seguimiento_cotizacion",
        "whatsapp_template_language": "es",
        "dunning_enabled": "on",
        "dunning_firm_after_days": 15,
        "dunning_staff_after_days": 30,
        "dunning_repeat_days": 7,
        "order_wait_days": 3,
    }
    refused = admin_client.post(url, form)
    # the same rule as over the API, in the staff's Spanish
    assert refused.status_code == 200 and "los pasos tienen que ir en orden creciente" in refused.content.decode()
    saved = admin_client.post(url, {**form, "steps_hours": "[12, 36]"})
    assert saved.status_code == 302
    assert FollowUpPolicy.objects.get(pk=policy.pk).steps_hours == [12, 36]


def test_invoices_load_over_the_api_whole_or_not_at_all(api, tenant):
    rows = [
        {
            "number": "F-1",
            "customer_phone": "+59894807926",
            "customer_name": "Gabriel",
            "amount": "2500.00",
            "currency": "USD",
            "issue_date": "2026-10-01",
            "due_date": "2026-11-01",
        },
        {
            "number": "F-2",
            "customer_phone": "094 807 926",
            "amount": "10",
            "issue_date": "2026-10-05",
            "due_date": "2026-10-01",
        },
    ]
    refused = api.post("/api/v1/invoices", rows, format="json")
    assert refused.status_code == 400 and not Invoice.objects.exists()
    assert "international format" in str(refused.json()["error"]["fields"])
    rows[1].update(customer_phone="+59894807926", due_date="2026-11-05")
    created = api.post("/api/v1/invoices", rows, format="json")
    assert created.status_code == 201 and [i["number"] for i in created.json()] == ["F-1", "F-2"]
    assert Customer.objects.filter(phone="+59894807926").count() == 1
    again = api.post("/api/v1/invoices", rows[0], format="json")
    assert again.status_code == 400 and "already loaded" in again.json()["error"]["message"]
    listed = api.get("/api/v1/invoices", {"status": "open"}).json()["invoices"]
    assert {i["number"]: i["balance"] for i in listed} == {"F-1": "2500.00", "F-2": "10.00"}
    paid = api.post(f"/api/v1/invoices/{created.json()[0]['id']}/paid", {"amount": "1000"}, format="json").json()
    assert (paid["status"], paid["balance"]) == ("open", "1500.00")
    paid = api.post(f"/api/v1/invoices/{created.json()[0]['id']}/paid", {}, format="json").json()
    assert (paid["status"], paid["balance"]) == ("paid", "0.00")
    again = api.post(f"/api/v1/invoices/{created.json()[0]['id']}/paid", {"amount": "5"}, format="json")
    assert again.status_code == 400 and "is paid: no payment can be added" in again.json()["error"]["message"]
    zero = api.post(f"/api/v1/invoices/{created.json()[1]['id']}/paid", {"amount": "0"}, format="json")
    assert zero.status_code == 400 and "amount" in zero.json()["error"]["fields"]
    twice = api.post("/api/v1/invoices", [{**rows[0], "number": "F-3"}, {**rows[0], "number": "F-3"}], format="json")
    assert twice.status_code == 400 and "repeated: F-3" in twice.json()["error"]["message"]
    as_numbers = api.post("/api/v1/invoices", [{**rows[0], "number": 123}, {**rows[0], "number": "123"}], format="json")
    assert as_numbers.status_code == 400 and "repeated: 123" in as_numbers.json()["error"]["message"]  # not a 500


def test_an_invoice_of_another_tenant_is_not_found(api, other_tenant):
    customer = Customer.objects.create(tenant=other_tenant, phone="+59899000111")
    from datetime import date

    other = Invoice.objects.create(
        tenant=other_tenant,
        customer=customer,
        number="X-1",
        amount=1,
        issue_date=date(2026, 1, 1),
        due_date=date(2026, 2, 1),
    )
    assert api.post(f"/api/v1/invoices/{other.pk}/paid", {}, format="json").status_code == 404


def test_staff_tasks_and_effectiveness_are_listed(api, tenant):
    staff_task_open(tenant_id=tenant.pk, kind="reengage", dedupe_key="k-1", title="Llamar a Gabriel")
    staff_task_open(tenant_id=tenant.pk, kind="reengage", dedupe_key="k-1", title="Llamar a Gabriel")
    (task,) = api.get("/api/v1/staff-tasks", {"status": "open"}).json()["tasks"]
    assert task["kind"] == "reengage" and task["title"] == "Llamar a Gabriel"
    assert StaffTask.objects.count() == 1
    assert api.get("/api/v1/analytics/followups").json() == {"steps": []}
    assert api.get("/api/v1/analytics/followups", {"since": "ayer"}).status_code == 400


def promised_invoice(tenant) -> Invoice:
    """Ana's invoice F-9, due 1 November, promised for the 6th."""
    from datetime import date

    from agents.sales.dunning import dunning_promise_record

    customer = Customer.objects.create(tenant=tenant, phone="+59899123456", name="Ana")
    invoice = Invoice.objects.create(
        tenant=tenant,
        customer=customer,
        number="F-9",
        amount=100,
        issue_date=date(2026, 10, 1),
        due_date=date(2026, 11, 1),
    )
    dunning_promise_record(invoice_id=invoice.pk, promised_date=date(2026, 11, 6), message_id=None)
    return invoice


def test_the_sales_admin_pages_open(admin_client, tenant):
    from datetime import date

    from agents.tenants import system_bootstrap
    from bmc.sales.models import DunningNotice, PaymentPromise

    system_bootstrap()
    invoice = promised_invoice(tenant)
    DunningNotice.objects.create(tenant=tenant, invoice=invoice, kind="soft", local_date=date(2026, 11, 2))
    staff_task_open(tenant_id=tenant.pk, kind="payment_overdue", dedupe_key="k", title="Cobrar", invoice_id=invoice.pk)
    for model in (FollowUpPolicy, StaffTask, Invoice, PaymentPromise, DunningNotice):
        name = model._meta.model_name
        assert admin_client.get(reverse(f"admin:sales_{name}_changelist")).status_code == 200, name
        detail = reverse(f"admin:sales_{name}_change", args=[model.objects.first().pk])
        assert admin_client.get(detail).status_code == 200, detail
    assert admin_client.get(reverse("admin:sales_invoice_add")).status_code == 200
    page = admin_client.get(reverse("admin:sales_followup_changelist")).content.decode()
    assert "Efectividad por paso" in page and "Todavía no se envió ningún seguimiento." in page
    assert FollowUp.objects.count() == 0


def test_an_invoice_set_paid_in_the_admin_is_paid_in_full_and_its_promise_kept(admin_client, tenant):

    from bmc.sales.models import PaymentPromise

    invoice = promised_invoice(tenant)
    customer = invoice.customer
    form = {
        "tenant": tenant.pk,
        "customer": customer.pk,
        "number": "F-9",
        "amount": "100.00",
        "currency": "USD",
        "issue_date": "01/10/2026",
        "due_date": "01/11/2026",
        "status": "paid",
        "amount_paid": "0",
        "notes": "",
        "promises-TOTAL_FORMS": 1,
        "promises-INITIAL_FORMS": 1,
        "promises-MIN_NUM_FORMS": 0,
        "promises-MAX_NUM_FORMS": 1000,
        "promises-0-id": PaymentPromise.objects.get().pk,
        "promises-0-invoice": invoice.pk,
        "notices-TOTAL_FORMS": 0,
        "notices-INITIAL_FORMS": 0,
        "notices-MIN_NUM_FORMS": 0,
        "notices-MAX_NUM_FORMS": 1000,
    }
    response = admin_client.post(reverse("admin:sales_invoice_change", args=[invoice.pk]), form)
    assert response.status_code == 302, response.content.decode()[:2000]
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid, invoice.paid_at is not None) == ("paid", 100, True)
    assert PaymentPromise.objects.get().status == "kept"
