"""Product questions answered by the catalog agent from the catalog and the stock, in the
conversation; a staff task only for what it cannot answer."""

from __future__ import annotations

from decimal import Decimal

import pytest

from agents.catalog.answers import catalog_answer, product_search
from bmc.conversations.models import Message
from bmc.inventory.models import StockLevel
from bmc.sales.models import StaffTask
from tests.agents.conversations.dialogue import say

pytestmark = pytest.mark.django_db


def reply(conversation, text: str) -> str:
    return Message.objects.get(pk=say(conversation, text).replies[0]).text


def test_the_questions_customers_ask_are_answered_from_the_catalog(conversation):
    every = reply(conversation, "¿qué espesores tienen?")
    assert "• Isopanel EPS: 50, 100, 150, 200 y 250 mm" in every and "• Isoroof 3G: 30, 50 y 80 mm" in every
    cold = reply(conversation, "¿qué panel me sirve para una cámara de frío?")
    assert cold.startswith("Para cámaras de frío te sirve:\n• Isofrig PIR (80, 100, 120 y 150 mm)")
    assert "largo, ancho y alto" in cold
    assert reply(conversation, "¿en qué colores viene el isodec?").startswith(
        "El Isodec EPS viene en Blanco, Gris y Rojo."
    )
    assert reply(conversation, "¿tienen stock de isoroof 50?") == "Sí, tenemos stock de Isoroof 3G 50 mm."
    # a question after another is about the panel talked of
    assert reply(conversation, "y que espesores hay?").startswith("El Isoroof 3G viene en 30, 50 y 80 mm.")
    assert not StaffTask.objects.exists()  # answered: no person needed


def test_stock_is_said_as_it_stands(conversation):
    StockLevel.objects.filter(sku="ISOWALL_PIR_80").update(on_hand=Decimal(40), reserved=Decimal(40))
    out = reply(conversation, "hay stock del isowall 80?")
    assert out.startswith("Del Isowall PIR 80 mm ahora no tenemos stock; ya lo estamos reponiendo.")
    StockLevel.objects.filter(sku__startswith="ISOFRIG").delete()  # not kept in stock: made to order
    made = reply(conversation, "tienen isofrig de 120 en stock?")
    assert made == "El Isofrig PIR 120 mm lo fabricamos a pedido: te confirmamos el plazo al cotizar."


def test_a_product_named_with_typos_is_found(conversation):
    (roof,) = product_search(tenant=conversation.tenant, query="isoruf 50")
    assert (roof.family, roof.sku) == ("ISOROOF_3G", "ISOROOF_3G_50")
    assert product_search(tenant=conversation.tenant, query="isodek pir")[0].family == "ISODEC_PIR"
    assert product_search(tenant=conversation.tenant, query="chapa galvanizada") == []
    answer = catalog_answer(tenant=conversation.tenant, text="en que colores viene el isowal?", entities={})
    assert answer["text"].startswith("El Isowall PIR viene en")


def test_what_the_catalog_cannot_answer_goes_to_a_person(conversation):
    out = reply(conversation, "que garantia tienen los paneles?")
    task = StaffTask.objects.get(conversation=conversation)
    assert task.title == "Consulta sobre un producto para responder" and "garantia" in task.detail
    assert out == Message.objects.filter(direction="out").last().text
