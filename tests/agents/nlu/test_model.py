"""The model path through the real `openai` client, against a local chat-completions server."""

from __future__ import annotations

import json
import time

import pytest

from agents.nlu.model import message_understand
from tests.fakes import FakeJsonServer, chat_completion

MAIN = "cuanto sale isodec 100 para un techo de 6 x 4,48 con flete a montevideo"


class FakeOpenAI(FakeJsonServer):
    """Speaks POST /v1/chat/completions; answers what the test sets."""

    def __init__(self):
        self.answer: object = None
        self.status = 200
        super().__init__(self._respond)

    def _respond(self, request: dict) -> tuple[int, dict]:
        if self.status != 200:
            return self.status, {"error": {"message": "boom"}}
        content = self.answer if isinstance(self.answer, str) else json.dumps(self.answer)
        return 200, chat_completion(model=request["json"]["model"], content=content)


@pytest.fixture
def fake_openai(settings):
    fake = FakeOpenAI()
    settings.OPENAI_API_KEY = "sk-test"
    settings.OPENAI_BASE_URL = fake.url + "/v1"
    settings.OPENAI_MODEL = "gpt-test"
    settings.OPENAI_TIMEOUT = 1.0
    yield fake
    fake.close()


def test_a_sound_model_answer_is_used(fake_openai):
    fake_openai.answer = {
        "intent": "quote_request",
        "confidence": 0.97,
        "entities": {"family": "ISODEC_EPS", "thickness_mm": 100, "length_m": 6, "width_m": 4.48, "color": None},
    }
    result = message_understand(text=MAIN)
    assert result["source"] == "model" and result["intent"] == "quote_request"
    assert result["entities"] == {"family": "ISODEC_EPS", "thickness_mm": 100, "length_m": 6, "width_m": 4.48}
    (request,) = fake_openai.requests
    assert request["path"] == "/v1/chat/completions" and request["headers"]["Authorization"] == "Bearer sk-test"
    assert request["json"]["model"] == "gpt-test"
    schema = request["json"]["response_format"]["json_schema"]
    assert schema["strict"] is True and "intent" in schema["schema"]["properties"]


@pytest.mark.parametrize(
    "answer",
    [
        {"intent": "give_discount", "confidence": 0.9, "entities": {}},
        {"intent": "quote_request", "confidence": 0.9, "entities": {"discount_pct": 50}},
        {"intent": "quote_request", "confidence": 0.9, "entities": {"family": "ISOCHAPA"}},
        {"intent": "quote_request", "confidence": 7, "entities": {}},
        "not json at all",
    ],
)
def test_an_answer_outside_the_schema_falls_back_to_the_rules(fake_openai, answer):
    fake_openai.answer = answer
    result = message_understand(text=MAIN)
    assert result["source"] == "rules" and result["intent"] == "quote_request"
    assert result["entities"]["width_m"] == 4.48


def test_an_error_or_a_slow_model_falls_back_to_the_rules(fake_openai):
    fake_openai.status = 500
    assert message_understand(text=MAIN)["source"] == "rules"
    fake_openai.status, fake_openai.delay = 200, 2.0
    fake_openai.answer = {"intent": "greeting", "confidence": 1, "entities": {}}
    started = time.monotonic()
    result = message_understand(text=MAIN)
    assert result["source"] == "rules" and time.monotonic() - started < 1.9  # the timeout, not the model, decided


def test_without_a_key_the_rules_answer_and_nothing_is_called(settings):
    settings.OPENAI_API_KEY = ""
    assert message_understand(text="hola buenas")["source"] == "rules"


FOLLOW_UP = (
    "¡Hola, Gabriel! ¿Pudiste ver la cotización COT-000007 de isodec eps 100 mm? El total es USD 1.816,95. "
    "Te la dejo de nuevo: https://bmc.test/q/7/abc.pdf"
)


def test_a_reworded_follow_up_that_keeps_every_number_is_used(fake_openai):
    from agents.nlu.model import message_reword

    fake_openai.answer = (
        "¡Buenas, Gabriel! ¿Llegaste a mirar la cotización COT-000007 de isodec eps 100 mm? Son USD 1.816,95 en "
        "total. Acá la tenés: https://bmc.test/q/7/abc.pdf"
    )
    assert message_reword(text=FOLLOW_UP) == fake_openai.answer
    (request,) = fake_openai.requests
    assert "No cambies" in request["json"]["messages"][0]["content"]


@pytest.mark.parametrize(
    "answer",
    [
        "¡Hola, Gabriel! Te dejo la cotización COT-000007 con 10% de descuento: USD 1.635,25. https://bmc.test/q/7/abc.pdf",
        "¡Hola! ¿Viste la cotización de isodec eps 100 mm? Son USD 1.816,95.",  # the link and the code dropped
        "",
    ],
)
def test_a_reworded_follow_up_that_changes_a_number_falls_back_to_the_template(fake_openai, answer):
    from agents.nlu.model import message_reword

    fake_openai.answer = answer
    assert message_reword(text=FOLLOW_UP) == FOLLOW_UP


def test_no_model_configured_or_a_model_down_leaves_the_template(fake_openai, settings):
    from agents.nlu.model import message_reword

    fake_openai.status = 500
    assert message_reword(text=FOLLOW_UP) == FOLLOW_UP
    asked = len(fake_openai.requests)
    assert asked >= 1  # the model was asked, and failed
    settings.OPENAI_API_KEY = ""
    assert message_reword(text=FOLLOW_UP) == FOLLOW_UP
    assert len(fake_openai.requests) == asked  # without a key nobody is asked
