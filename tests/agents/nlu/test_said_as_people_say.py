"""Entities as customers say them, from the held-out sets' first readings: numbers in words and by
ear, corrections, units and signatures. Each row is a message and the entities it must give."""

from __future__ import annotations

import pytest

from agents.nlu import nlu_parse

THURSDAY = "2027-08-19T10:00:00-03:00"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # numbers said in words, spelt by ear, in two parts, corrected as said
        (
            "isodec de ciento cincuenta para techo de cuatro metros veinte por seis",
            {"thickness_mm": 150, "length_m": 4.2, "width_m": 6},
        ),
        ("techo de ocho metros por dies, isodec pir de sinco", {"length_m": 8, "width_m": 10}),
        ("quiero dose paneles isoroof de 80", {"panel_count": 12, "thickness_mm": 80}),
        (
            "camarita de frio dos ochenta por dos ochenta y de alto dos cuarenta, isofrig de ochenta",
            {"length_m": 2.8, "width_m": 2.8, "height_m": 2.4, "thickness_mm": 80},
        ),
        ("isopanel de cincuenta no perdón de cien para pared", {"thickness_mm": 100}),
        # corrected after a pause: the value said again replaces the one it corrects
        ("techo de isoroof 50, 6 de largo y 5 de ancho... no, pará, son 5,6 de ancho", {"length_m": 6, "width_m": 5.6}),
        (
            "Es de 450 cm x 320 cm, isodec 100. Perdon, me equivoque, son 470 de largo",
            {"length_m": 4.7, "width_m": 3.2},
        ),
        (
            "isoroof 30, 6 chapas de 2,5 m para un techito. a no, pará, mejor 7 paneles",
            {"panel_count": 7, "length_m": 2.5},
        ),
        ("Confirmo la cotizacion 1045. Perdon, la 1054.", {"order_ref": "1054"}),
        # units and the ways a measure is given
        ("isodec pir 50, paneles de 3500 mm, ancho total 5600 mm", {"length_m": 3.5, "width_m": 5.6}),
        (
            "me dio como 8 pasos de largo que serian unos 7 metros y de ancho unos 5 metros, isodec 200",
            {"length_m": 7, "width_m": 5},
        ),
        (
            "camara: 2,5 de ancho, 3,5 de fondo y 2,2 de alto. isofrig 120",
            {"length_m": 3.5, "width_m": 2.5, "height_m": 2.2},
        ),
        ("camara de 300 x 250 cm y 240 de alto, isofrig 80", {"length_m": 3, "width_m": 2.5, "height_m": 2.4}),
        (
            "Cotización:\n- Isowall PIR 100 mm\n- Fachada: 24,60 m lineales\n- Altura: 3,35 m\n- 2 esquinas",
            {"run_m": 24.6, "length_m": 3.35, "corners": 2},
        ),
        (
            "isowall 50 para una pared de dieciocho metros de pared en total, no tiene esquinas",
            {"run_m": 18, "corners": 0},
        ),
        # money as written in Uruguay, a name signed on its own line
        ("Transferimos USD 3.450,80 correspondiente al pedido 5187.", {"amount": 3450.8, "order_ref": "5187"}),
        ("Hola,\n\nAprobamos el presupuesto.\n\nGracias,\nPablo Rivero", {"name": "Pablo Rivero"}),
    ],
)
def test_entities_as_people_say_them(text, expected):
    entities = nlu_parse(text=text, sent_at=THURSDAY)["entities"]
    assert {key: entities.get(key) for key in expected} == expected, entities
