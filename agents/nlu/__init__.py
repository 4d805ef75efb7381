"""Deterministic Spanish NLU for inbound customer WhatsApp messages: one intent and its entities.

A classifier trained on the labelled messages the project keeps picks the intent; rules and a
gazetteer read the entities. No network and no language model, so the same message always gives
the same answer, it runs inside any task and tests can replay it. The intents and entities
follow docs/domain/INTENTS.md; NLU_SCHEMA describes the output so the optional model (model.py)
is asked for exactly the same shape.

- vocabulary.py  intents, entity keys and values, the output schema
- text.py        normalisation and the number fragments the extractors share
- classifier.py  the intent, learnt from training/*.jsonl (chosen by measurement: docs/nlu.md)
- measures.py, dates.py, places.py (places.csv), money.py, names.py, product.py, extras.py: the
  entity extractors
- parse.py       nlu_parse, which puts them together
- model.py       the optional language model, bound to the same schema
"""

from agents.nlu.parse import nlu_parse
from agents.nlu.vocabulary import NLU_ENTITY_KEYS, NLU_INTENTS, NLU_SCHEMA, NLU_SCHEMA_OPENAI

__all__ = ["NLU_ENTITY_KEYS", "NLU_INTENTS", "NLU_SCHEMA", "NLU_SCHEMA_OPENAI", "nlu_parse"]
