from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse

from agents.quotes.pricing import catalog_snapshot, quote_create, quote_price, quote_spec_parse
from agents.tenants import system_bootstrap
from bmc.quotes.models import Quote

pytestmark = pytest.mark.django_db

MAIN = {"family": "ISODEC_EPS", "thickness_mm": 100, "length_m": 6, "width_m": 4.48, "zone": "MONTEVIDEO"}
BIG = {
    "scenario": "roof",
    "family": "ISODEC_PIR",
    "thickness_mm": 80,
    "length_m": 7,
    "width_m": 10.5,
    "slopes": 2,
    "zone": "MALDONADO",
}


@pytest.fixture
def catalog(tenant):
    system_bootstrap()
    return catalog_snapshot(tenant=tenant)


def client_for_link(url: str):
    from django.test import Client

    return Client().get(url.split("8000", 1)[1])


def stored(tenant, catalog, spec) -> Quote:
    return quote_create(
        tenant=tenant, result=quote_price(spec=quote_spec_parse(data=spec, catalog=catalog), catalog=catalog)
    )


def test_calculate_prices_the_spec(api, catalog):
    response = api.post("/api/v1/quotes/calculate", MAIN, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["subtotal"], body["iva"], body["total"]) == ("1489.30", "327.65", "1816.95")
    assert body["lines"][0] == {
        "sku": "ISODEC_EPS_100",
        "description": "Isodec EPS 100 mm",
        "quantity": "26.88",
        "unit_price": "47.50",
        "amount": "1276.80",
    }
    assert body["estimate"] is False and body["requires_approval"] is False and body["catalog_version"] == 1
    assert Quote.objects.count() == 0  # a calculation stores nothing


@pytest.mark.parametrize(
    "body, field, says",
    [
        ({**MAIN, "thickness_mm": 120}, "thickness_mm", "100, 150, 200, 250"),
        ({**MAIN, "discount_pct": 50}, "discount_pct", "not a spec field"),
        ({**MAIN, "color": "Violeta"}, "color", "Blanco, Gris, Rojo"),
        ({**MAIN, "length_m": "seis"}, "length_m", "must be a number"),
    ],
)
def test_calculate_refuses_bad_specs_naming_the_field(api, catalog, body, field, says):
    response = api.post("/api/v1/quotes/calculate", body, format="json")
    assert response.status_code == 400
    assert says in response.json()["error"]["fields"][field][0]


def test_calculate_needs_an_object(api, catalog):
    assert api.post("/api/v1/quotes/calculate", [MAIN], format="json").status_code == 400


def test_stored_quote_reads_back_with_its_lines(api, tenant, catalog, other_tenant):
    quote = stored(tenant, catalog, MAIN)
    assert quote.status == "draft" and quote.lines.count() == 6 and quote.catalog_version.version == 1
    body = api.get(f"/api/v1/quotes/{quote.pk}").json()
    assert body["number"] == f"COT-{quote.pk:06d}" and body["total"] == "1816.95"
    assert [line["sku"] for line in body["lines"]][-1] == "FLETE_MONTEVIDEO"
    public = client_for_link(body["pdf_url"])
    assert public.status_code == 200 and public.content.startswith(b"%PDF")  # the customer's link needs no key
    pdf = api.get(f"/api/v1/quotes/{quote.pk}/pdf", HTTP_ACCEPT="application/pdf")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    assert "COT-" in pdf["Content-Disposition"]
    other = Quote.objects.create(
        tenant=other_tenant,
        catalog_version=quote.catalog_version,
        subtotal=1,
        iva=0,
        total=1,
        valid_until=quote.valid_until,
    )
    assert api.get(f"/api/v1/quotes/{other.pk}").status_code == 404


def test_a_quote_over_10000_waits_for_approval_by_sales_staff(client, tenant, catalog):
    quote = stored(tenant, catalog, BIG)
    assert (quote.status, str(quote.total), quote.requires_approval) == ("pending_approval", "12738.46", True)
    small = stored(tenant, catalog, MAIN)

    seller = User.objects.create_user("vendedora", password="x", is_staff=True)
    seller.groups.add(Group.objects.get(name="sales"))
    client.force_login(seller)
    response = client.post(
        reverse("admin:quotes_quote_changelist"),
        {"action": "approve_quotes", "_selected_action": [quote.pk, small.pk]},
        follow=True,
    )
    assert response.status_code == 200
    quote.refresh_from_db()
    assert quote.status == "draft" and quote.approved_by == seller and quote.approved_at is not None
    assert "solo se pueden aprobar las cotizaciones que esperan aprobación" in response.content.decode()


def test_operations_cannot_approve(client, tenant, catalog):
    quote = stored(tenant, catalog, BIG)
    ops = User.objects.create_user("operador", password="x", is_staff=True)
    ops.groups.add(Group.objects.get(name="operations"))
    client.force_login(ops)
    client.post(reverse("admin:quotes_quote_changelist"), {"action": "approve_quotes", "_selected_action": [quote.pk]})
    quote.refresh_from_db()
    assert quote.status == "pending_approval"


def test_an_absurd_number_is_refused_at_once(api, catalog):
    response = api.post("/api/v1/quotes/calculate", {**MAIN, "thickness_mm": "1e999999999"}, format="json")
    assert response.status_code == 400 and "out of range" in response.json()["error"]["message"]


def test_the_customers_link_opens_the_pdf_until_90_days_after_the_quote_expires(client, tenant, catalog):
    from datetime import datetime, time, timedelta
    from zoneinfo import ZoneInfo

    import time_machine

    from agents.quotes.document import quote_public_path

    spec = quote_spec_parse(data=MAIN, catalog=catalog)
    quote = quote_create(tenant=tenant, result=quote_price(spec=spec, catalog=catalog))
    link = quote_public_path(quote)
    assert client.get(link).content.startswith(b"%PDF")

    def noon(day):
        return datetime.combine(day, time(12), tzinfo=ZoneInfo("America/Montevideo"))

    with time_machine.travel(noon(quote.valid_until + timedelta(days=90)), tick=False):
        assert client.get(link).status_code == 200  # the last day it opens
    with time_machine.travel(noon(quote.valid_until + timedelta(days=91)), tick=False):
        gone = client.get(link)
    assert gone.status_code == 410
    assert f"La cotización {quote.number} venció" in gone.content.decode()
    assert client.get(link.replace(".pdf", "x.pdf")).status_code == 404  # a forged token still says nothing


@pytest.mark.parametrize("accept", ["application/pdf", "*/*"])
def test_a_pdf_that_cannot_be_given_is_a_json_error_not_a_pdf(api, client, tenant, catalog, accept):
    missing = api.get("/api/v1/quotes/999999/pdf", HTTP_ACCEPT=accept)
    assert missing.status_code == 404 and missing["Content-Type"] == "application/json"
    assert missing.json()["error"]["message"]
    quote = stored(tenant, catalog, MAIN)
    unauthenticated = client.get(f"/api/v1/quotes/{quote.pk}/pdf", HTTP_ACCEPT=accept)
    assert unauthenticated.status_code == 401 and unauthenticated["Content-Type"] == "application/json"


def test_measures_too_small_for_any_panel_are_400_not_a_quote_of_accessories(api, tenant, catalog):
    response = api.post(
        "/api/v1/quotes/calculate",
        {"family": "ISODEC_EPS", "thickness_mm": 100, "length_m": 0.001, "width_m": 4},
        format="json",
    )
    assert response.status_code == 400
    assert "0.00 m2" in response.json()["error"]["fields"]["length_m"][0]
