"""Nothing the customer asks for is dropped in silence: every request in a message is priced in the
quote, or named in the reply as left out and why. Each row is a conversation: the messages a
customer sends, what the last quote's spec must hold, and what the last reply must say."""

from __future__ import annotations

import pytest

from bmc.conversations.models import Message
from bmc.quotes.models import Quote
from tests.agents.conversations.dialogue import say

pytestmark = pytest.mark.django_db

ROOF = "isodec 100 techo 6x4, retiro yo"

CASES = [
    pytest.param(
        ["isoroof 80 verde p/ techo 4x5 a dos aguas con canalon y sin goteros, es p/ piriapolis. cuanto seria?"],
        {"gutters": True, "drip_edges": False, "slopes": 2, "color": "Verde", "zone": "MALDONADO"},
        ["con canalones", "sin goteros", "con flete a Maldonado"],
        id="gutters-and-drip-edges",
    ),
    pytest.param(
        ["bo necesito panel de camara de 120, 4 x 3 y 2,6 de alto, flete a pde. cuanto es?"],
        {"scenario": "cold_room", "length_m": "4", "width_m": "3", "height_m": "2.6", "zone": "MALDONADO"},
        ["4 x 3 m y 2,6 m de alto", "con flete a Maldonado"],
        id="cold-room-height-after-the-floor",
    ),
    pytest.param(
        ["cotizame isopanel 100 pared de 20 mts de largo x 3 de alto, 2 esquinas, sin silicona, precio web"],
        {"scenario": "wall", "run_m": "20", "length_m": "3", "corners": 2, "sealant": False, "price_list": "web"},
        ["20 m lineales x 3 m de alto", "2 esquinas", "sin silicona", "a precio web"],
        id="wall-corners-silicone-web-price",
    ),
    pytest.param(
        ["cuanto me sale techo isodek pir 120 4 de ancho x 6,5 de largo con caneleta, flete a la costa"],
        {"gutters": True, "zone": "CANELONES", "length_m": "6.5", "width_m": "4"},
        ["con canalones", "con flete a Canelones"],
        id="the-coast-by-its-common-name",
    ),
    pytest.param(
        ["isodec 100 para techo de 6x4 con flete"],
        {"length_m": "6"},
        ["No incluí el flete: ¿a qué localidad sería?"],
        id="freight-without-a-place-is-asked",
    ),
    pytest.param(
        ["isodec 100 para techo de 6x4, flete a villa tranquila"],
        {"length_m": "6"},
        ["no ubico «villa tranquila»"],
        id="an-unknown-place-is-asked-about",
    ),
    pytest.param(
        ["isowall 80 para pared de 22 metros lineales y 2,6 de alto, con canalones, retiro yo"],
        {"scenario": "wall", "run_m": "22"},
        ["Los canalones van en techos, así que no los incluí."],
        id="gutters-on-a-wall-are-explained",
    ),
    pytest.param([ROOF, "agregale canalones"], {"gutters": True}, ["con canalones"], id="gutters-added-later"),
    pytest.param([ROOF, "sin goteros"], {"drip_edges": False}, ["sin goteros"], id="drip-edges-taken-out-later"),
    pytest.param([ROOF, "mejor a precio web"], {"price_list": "web"}, ["a precio web"], id="web-price-later"),
    pytest.param([ROOF, "no, son 5 metros"], {"length_m": "5"}, ["paneles de 5 m"], id="a-measure-corrected"),
    pytest.param([ROOF, "no, el ancho es 4,5"], {"width_m": "4.5"}, ["4,5 m de ancho"], id="the-width-corrected"),
    pytest.param([ROOF, "sacale la silicona"], {"sealant": False}, ["sin silicona"], id="silicone-taken-out-later"),
    pytest.param([ROOF, "con flete a pando"], {"zone": "CANELONES"}, ["con flete a Canelones"], id="freight-later"),
]


@pytest.mark.parametrize(("messages", "priced", "said"), CASES)
def test_every_request_is_priced_or_answered(conversation, messages, priced, said):
    for text in messages:
        say(conversation, text)
    quote = Quote.objects.filter(conversation=conversation).order_by("pk").last()
    reply = Message.objects.filter(conversation=conversation, direction="out").order_by("pk").last().text
    assert quote is not None, reply
    assert {key: quote.spec.get(key) for key in priced} == priced, (quote.spec, reply)
    for words in said:
        assert words in reply, reply
    if len(messages) > 1:  # a change re-quotes: one quote per message
        assert Quote.objects.filter(conversation=conversation).count() == len(messages)
