"""The intent classifier: trained once on the labelled messages, kept by a digest of them."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from agents.nlu import classifier
from tasks import conversation

EXAMPLES = [
    ("hola buenas", "greeting"),
    ("buen dia", "greeting"),
    ("cuanto sale isodec 100 para un techo de 6x4", "quote_request"),
    ("precio del isopanel 50 para pared de 10 metros", "quote_request"),
    ("pasame con un vendedor", "human_handoff"),
    ("quiero hablar con una persona", "human_handoff"),
]


@pytest.fixture
def small_training(tmp_path, monkeypatch):
    training = tmp_path / "training"
    training.mkdir()
    (training / "set.jsonl").write_text(
        "".join(json.dumps({"text": t, "intent": i}) + "\n" for t, i in EXAMPLES), encoding="utf-8"
    )
    monkeypatch.setattr(classifier, "TRAINING", training)
    monkeypatch.setattr(classifier, "_CACHE_DIR", tmp_path / "cache")
    classifier.intent_model.cache_clear()
    yield training
    classifier.intent_model.cache_clear()


def test_the_model_is_trained_once_and_then_loaded_from_the_cache(small_training, monkeypatch):
    classifier.intent_model()
    cached = list((small_training.parent / "cache").glob("intent-*.joblib"))
    assert len(cached) == 1
    classifier.intent_model.cache_clear()
    monkeypatch.setattr(classifier, "_model_train", lambda examples: pytest.fail("trained again"))
    assert classifier.intent_classify(text="pasame con un vendedor por favor")[0] == "human_handoff"


def test_new_training_data_trains_a_new_model(small_training):
    classifier.intent_model()
    with (small_training / "set.jsonl").open("a", encoding="utf-8") as handle:
        handle.write(json.dumps({"text": "no me escriban mas", "intent": "opt_out"}) + "\n")
    classifier.intent_model.cache_clear()
    assert "opt_out" in classifier.intent_model().classes_
    assert len(list((small_training.parent / "cache").glob("intent-*.joblib"))) == 2


def test_a_cache_file_cut_short_is_trained_again(small_training):
    classifier.intent_model()
    (cached,) = (small_training.parent / "cache").glob("intent-*.joblib")
    cached.write_bytes(b"not a model")
    classifier.intent_model.cache_clear()
    assert classifier.intent_classify(text="hola buenas")[0] == "greeting"


def _worker_of(*queues: str):
    """A started worker as worker_init sees it: its app consumes from these queues only."""
    return SimpleNamespace(app=SimpleNamespace(amqp=SimpleNamespace(queues=SimpleNamespace(consume_from=set(queues)))))


def test_only_a_worker_of_the_conversation_queue_loads_the_model_at_start(monkeypatch):
    loaded = []
    monkeypatch.setattr(conversation, "intent_model", lambda: loaded.append(True))
    conversation.intent_model_warm(sender=_worker_of("quote", "documents"))
    assert loaded == []
    conversation.intent_model_warm(sender=_worker_of("conversation"))
    assert loaded == [True]
    conversation.intent_model_warm(sender=None)  # a signal sent without a worker
    assert loaded == [True]
