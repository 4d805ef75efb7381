"""The gazetteer of Uruguay (agents/nlu/places.csv) and the reader of a message's place."""

from __future__ import annotations

import csv

import pytest

from agents.nlu import nlu_parse
from agents.nlu.places import GAZETTEER, place_unknown
from agents.nlu.text import text_normalize

DEPARTMENTS = {
    "Artigas", "Canelones", "Cerro Largo", "Colonia", "Durazno", "Flores", "Florida", "Lavalleja", "Maldonado",
    "Montevideo", "Paysandú", "Río Negro", "Rivera", "Rocha", "Salto", "San José", "Soriano", "Tacuarembó",
    "Treinta y Tres",
}  # fmt: skip
OWN_ZONE = {"Montevideo": "MONTEVIDEO", "Canelones": "CANELONES", "Maldonado": "MALDONADO"}


def test_every_row_names_a_zone_its_department_agrees_with_and_a_source():
    with GAZETTEER.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    names = [row["name"] for row in rows]
    assert len(names) == len(set(names)), "a name is listed twice"
    departments = {row["department"] for row in rows if row["kind"] == "department"}
    assert departments == DEPARTMENTS
    assert len(rows) > 1500
    for row in rows:
        assert row["source"] in {"curated", "correo"}, row
        assert row["name"] == text_normalize(text=row["name"]), row
        if row["department"]:
            assert row["department"] in DEPARTMENTS, row
            assert row["zone"] == OWN_ZONE.get(row["department"], "INTERIOR"), row


@pytest.mark.parametrize(
    ("text", "zone"),
    [
        ("isodec 100 techo 6x4 con flete a la costa", "CANELONES"),  # the name people use for an area
        ("flete a Piriápolis", "MALDONADO"),
        ("flete a piriapoli", "MALDONADO"),  # a typo, after a word that names a place
        ("estoy en tacuarenbo, cuanto sale el isodec 100?", "INTERIOR"),
        ("isodec 100 / 6x4 / flete pde", "MALDONADO"),  # an abbreviation
        ("camara 5x4x3 isofrig 100, con flete a Sandú", "INTERIOR"),  # a nickname
        ("envio a paso carrasco", "CANELONES"),  # not Montevideo's Carrasco
        ("obra en el cerro", "MONTEVIDEO"),
        ("galpon en cerro largo", "INTERIOR"),  # not Montevideo's Cerro
        ("envio a ciudad del plata", "INTERIOR"),  # San José, beside Montevideo
        ("techo para una casa en Sarandí del Yí", "INTERIOR"),  # a town of the Correo list
        ("soy Ramón Olivera, de Tambores", "INTERIOR"),
    ],
)
def test_a_place_is_read_into_its_freight_zone(text, zone):
    assert nlu_parse(text=text)["entities"].get("zone") == zone


@pytest.mark.parametrize(
    "text",
    [
        "isodec 100 techo 6x4 en blanco",  # a colour, though a village is called Blanco
        "retiro yo en planta",
        "quien me manda la factura?",
        "soy Carlos de la barraca Sosa",
    ],
)
def test_common_words_are_not_places(text):
    assert "zone" not in nlu_parse(text=text)["entities"]


def test_a_place_it_does_not_know_is_reported_to_be_asked_about():
    assert place_unknown(text=text_normalize(text="con flete a Villa Tranquila por favor")) == "villa tranquila"
    assert place_unknown(text=text_normalize(text="con flete a Piriápolis")) is None
