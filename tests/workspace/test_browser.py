"""The workspace in a real browser (Playwright driving Debian's Chromium) against the web process
as the Procfile starts it: a seller logs in, reads the home's counts and charts, watches a
customer's message arrive in the inbox and in the thread without reloading, takes over, replies
and hands back; at a desktop's width and a phone's. Screenshots are kept in var/screenshots/."""

from __future__ import annotations

import os
import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from agents.tenants import system_bootstrap
from bmc.conversations.models import Conversation, Customer, Message
from tests.agents.conversations.dialogue import say
from tests.agents.orders.test_orders import REQUEST
from tests.conftest import ROOT, web_server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = ROOT / "var" / "screenshots"
WIDTHS = {"desktop": {"width": 1400, "height": 900}, "phone": {"width": 390, "height": 844}}
# English a half-translated page would show (whole words, as staff would read them)
ENGLISH = re.compile(
    r"\b(Conversations?|Customers?|Quotes?|Staff tasks?|Messages?|Waiting|Pending|Delivered|Inbound|Outbound|"
    r"Take over|Release|Search|Home|Save|Delete|Add|Change|View site|Log out|Sales|Operations|Monday|Tuesday|"
    r"Wednesday|Thursday|Friday|Open|Closed|Reply|Status|Created)\b"
)

pytestmark = [
    pytest.mark.django_db(transaction=True),
    # CI installs it and sets BROWSER_TESTS_REQUIRED: there a missing browser fails, never skips
    pytest.mark.skipif(
        not Path(CHROMIUM).exists() and not os.environ.get("BROWSER_TESTS_REQUIRED"),
        reason="Debian's chromium is not installed (apt-get install chromium)",
    ),
]


@pytest.fixture
def site(transactional_db, tenant):
    system_bootstrap()
    call_command("collectstatic", "--noinput", "-v", "0")
    seller = get_user_model().objects.create_user(
        "lucia", password="clave-segura-1", is_staff=True, first_name="Lucía", last_name="Pérez"
    )
    seller.groups.add(Group.objects.get(name="sales"))
    quoted = Conversation.objects.create(
        tenant=tenant, customer=Customer.objects.create(tenant=tenant, phone="+59899111222", name="Fabián Rodríguez")
    )
    say(quoted, REQUEST)
    waiting = Conversation.objects.create(
        tenant=tenant,
        customer=Customer.objects.create(tenant=tenant, phone="+59899123456", name="Carla Suárez"),
        state=Conversation.State.HANDOFF,
        last_message_at=timezone.now(),
    )
    _said(waiting, "Hola, ¿me pueden llamar por un pedido grande?")
    with web_server(DJANGO_ALLOW_ASYNC_UNSAFE="") as port:
        yield {"url": f"http://127.0.0.1:{port}", "waiting": waiting, "quoted": quoted}


def _said(conversation: Conversation, text: str) -> Message:
    """The customer's message stored as the inbound agent stores it: from another thread, as a
    worker would (this one holds Playwright's event loop)."""

    def store() -> Message:
        try:
            message = Message.objects.create(
                tenant=conversation.tenant, conversation=conversation, direction="in", channel="whatsapp", text=text
            )
            Conversation.objects.filter(pk=conversation.pk).update(last_message_at=timezone.now())
            return message
        finally:
            connection.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(store).result()


@pytest.fixture(scope="module")
def browser():
    """Chromium, driven from this thread; Playwright's sync API keeps an event loop in it, where
    Django refuses the ORM unless told the test's own queries are safe (they are: one thread)."""
    playwright = pytest.importorskip("playwright.sync_api")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with playwright.sync_playwright() as p:
            chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            yield chromium
            chromium.close()


def _page_checked(page, name: str) -> str:
    """Screenshot kept; the page neither wider than the screen nor speaking English or raw JSON."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{name}: {overflow} px wider than the screen"
    text = page.inner_text("#content")
    assert not ENGLISH.findall(text), f"{name}: English left: {sorted(set(ENGLISH.findall(text)))}"
    assert '{"' not in text and "':" not in text, f"{name}: raw JSON shown"
    return text


@pytest.mark.parametrize("width", WIDTHS)
def test_a_seller_works_the_inbox_live(site, browser, width):
    page = browser.new_page(viewport=WIDTHS[width], locale="es-UY")
    page.goto(site["url"] + "/admin/login/?next=/admin/")
    page.fill("#id_username", "lucia")
    page.fill("#id_password", "clave-segura-1")
    page.click("input[type=submit]")

    page.wait_for_selector("body[data-charts=drawn]")
    home = _page_checked(page, f"home-{width}")
    assert "cliente espera a una persona" in home
    assert page.locator("canvas").count() == 6

    page.goto(site["url"] + "/admin/bandeja/")
    page.wait_for_selector("body[data-live=on]")
    page.evaluate("window.notReloaded = true")
    _said(site["quoted"], "¿Y en 150 mm cuánto sale?")  # a customer writes while the seller looks
    page.wait_for_selector("text=¿Y en 150 mm cuánto sale?", timeout=10_000)
    assert page.evaluate("window.notReloaded") is True
    _page_checked(page, f"inbox-{width}")

    page.goto(site["url"] + f"/admin/bandeja/{site['waiting'].pk}/")
    page.wait_for_selector("body[data-live=on]")
    page.evaluate("window.notReloaded = true")
    _said(site["waiting"], "Son 400 m² de techo en Maldonado")
    page.wait_for_selector(".ws-in >> text=Son 400 m² de techo en Maldonado", timeout=10_000)
    assert page.evaluate("window.notReloaded") is True
    _page_checked(page, f"thread-{width}")

    page.fill("#reply-text", "Hola Carla, soy Lucía: te llamo en 10 minutos.")
    page.click(".ws-reply button[type=submit]")
    page.wait_for_selector(".ws-staff >> text=te llamo en 10 minutos")
    reply = Message.objects.get(conversation=site["waiting"], direction="out")
    assert reply.raw_payload["staff"] == "lucia"
    page.click("button[value=hand_back]")
    page.wait_for_selector("button[value=take_over]")
    site["waiting"].refresh_from_db()
    assert site["waiting"].state == "open" and site["waiting"].assigned_to is None
    page.click("button[value=take_over]")
    page.wait_for_selector("button[value=hand_back]")
    site["waiting"].refresh_from_db()
    assert site["waiting"].state == "handoff" and site["waiting"].assigned_to.username == "lucia"

    page.goto(site["url"] + f"/admin/clientes/{site['quoted'].customer_id}/")
    customer = _page_checked(page, f"customer-{width}")
    assert "Montevideo" in customer and "1.816,95" in customer
    page.close()
