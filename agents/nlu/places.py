"""Places: a gazetteer of Uruguay (agents/nlu/places.csv) mapping what people call a place to its
freight zone, and the reader of a message's place.

Curated names (departments, cities, Montevideo's barrios, beaches, "la costa", "pde") are read
wherever they appear; the rest of the country's localities (Correo Uruguayo's list; many are also
common words) only where the message names a place ("flete a ...", "estoy en ..."), and there a
misspelt name is still found ("tacuarenbo"). scripts/gazetteer_build.py says how the file is made.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from agents.nlu.text import text_mask

GAZETTEER = Path(__file__).with_name("places.csv")


@dataclass(frozen=True)
class Place:
    name: str
    zone: str
    department: str
    anywhere: bool


def _places_load() -> dict[str, Place]:
    with GAZETTEER.open(encoding="utf-8") as handle:
        return {
            row["name"]: Place(row["name"], row["zone"], row["department"], row["anywhere"] == "1")
            for row in csv.DictReader(handle)
        }


PLACES = _places_load()
# The names read anywhere in a message (and that a customer's name stops at, see names.py).
PLACE_ZONE = {name: place.zone for name, place in PLACES.items() if place.anywhere}


def _alternation(names) -> str:
    # Longest first, so "paso carrasco" wins over "carrasco" and "cerro largo" over "el cerro".
    return "|".join(re.escape(name) for name in sorted(names, key=len, reverse=True))


# Words after which what follows is a place: "flete a", "estoy en", "soy de", "zona".
_PLACE_WORDS = (
    r"(?:\b(?:en|a|al|para|hasta|desde|por)"
    # one space: a customer's name masked between ("soy ___ de la barraca") is no place word
    r"|\b(?:soy|somos|vivo|vivimos|zona|barrio|localidad|ciudad|pueblo|balneario|departamento|depto) (?:de|del)?"
    # "soy Ramón Olivera, de Tambores": a name, then where from
    r"|,\s*(?:de|del|desde))"
    r"\s+(?:la\s+|el\s+|los\s+|las\s+)?"
)
_ANYWHERE_RE = re.compile(rf"\b({_alternation(PLACE_ZONE)})\b")
_IN_CONTEXT_RE = re.compile(rf"{_PLACE_WORDS}({_alternation(set(PLACES) - set(PLACE_ZONE))})\b")
_DESTINATION_BEFORE_RE = re.compile(
    r"(?:flete|envio|mandar\w*|mandalo\w*|mandan|enviar\w*|envialo\w*|entrega\w*|llevar\w*|obra)"
    r"\s+(?:a|al|en|hasta|para)\s+(?:la\s+|el\s+)?$"
)
# A place said after a word that says so, misspelt: up to three words, letters only.
# (single spaces: a masked name between is no place word: "soy ___ de la barraca")
_NAMED_PLACE_RE = re.compile(
    r"(?:flete|envio|enviar\w*|mandar\w*|entrega\w*|llevar\w*|obra|estoy|estamos|vivo|vivimos|queda|soy|somos)"
    r" (?:a|al|en|hasta|para|de|del) (?:la |el )?([a-z]{3,}(?: [a-z]+){0,2})"
)
_FUZZY_CUTOFF = 88


def _by_ear(name: str) -> str:
    """A name as it sounds, so spellings by ear meet: "durasno" and "durazno", "bella vista" and
    "beya bista" (z, c before e/i and s; v and b; ll and y; a silent h)."""
    name = re.sub(r"c(?=[ei])|z", "s", name)
    return name.replace("v", "b").replace("ll", "y").replace("h", "")


_FUZZY_NAMES = [name for name in PLACES if len(name) >= 5]
_FUZZY_KEYS = [_by_ear(name) for name in _FUZZY_NAMES]


# The message's last few words on their own, after a comma or a slash: "..., c canaleta, piriapoli".
_LAST_SEGMENT_RE = re.compile(r"(?:[,;/]|\b(?:p|en|para)\s)\s*([a-z]{4,}(?:\s+[a-z]+)?)\s*[.!?]*\s*$")
# Words that end a message and are no place: "..., retiro yo", "..., por favor".
_NOT_A_PLACE = frozenset(
    "retiro retira retiramos yo planta fabrica favor gracias precio cuanto saludos urgente porfa gris blanco rojo "
    "verde techo pared camara flete envio agua aguas canalon canalones goteros silicona camino dolares".split()
)


def _fuzzy_find(text: str) -> tuple[str, int, int] | None:
    """A misspelt place after a word that names one, or alone at the message's end:
    ('tacuarembo', start, end) or None."""
    named = [(m, True) for m in _NAMED_PLACE_RE.finditer(text)]
    last = [(m, False) for m in _LAST_SEGMENT_RE.finditer(text) if not _NOT_A_PLACE & set(m.group(1).split())]
    for match, surely_a_place in [*named, *last]:
        words = match.group(1).split()
        # The longest run of words that is close to a name: "san carlo de" -> "san carlos".
        for count in range(len(words), 0, -1):
            said = " ".join(words[:count])
            found = process.extractOne(_by_ear(said), _FUZZY_KEYS, scorer=fuzz.ratio, score_cutoff=_FUZZY_CUTOFF)
            if not found and surely_a_place and len(said) >= 6:  # "flete a flroida": two letters swapped
                found = process.extractOne(_by_ear(said), _FUZZY_KEYS, scorer=OSA.distance, score_cutoff=1)
            if found:
                start = match.start(1)
                return _FUZZY_NAMES[found[2]], start, start + len(said)
    return None


def zone_find(*, text: str) -> tuple[str | None, str]:
    """The freight zone of the place the message names, and the text with every place masked.
    Where several are named, the one that is a destination ("flete a ...") wins, else the last."""
    matches = [(m.group(1), m.start(1), m.end(1)) for m in _ANYWHERE_RE.finditer(text)]
    matches += [(m.group(1), m.start(1), m.end(1)) for m in _IN_CONTEXT_RE.finditer(text)]
    if not matches:
        misspelt = _fuzzy_find(text)
        matches = [misspelt] if misspelt else []
    if not matches:
        return None, text
    # A name inside a longer one is not a place of its own: "cerro largo", not "cerro".
    matches = [m for m in matches if not any(o[1] <= m[1] and m[2] <= o[2] and o != m for o in matches)]
    matches.sort(key=lambda m: m[1])
    chosen = matches[-1]
    for match in matches:
        if _DESTINATION_BEFORE_RE.search(text[max(0, match[1] - 30) : match[1]]):
            chosen = match
    for _, start, end in matches:
        text = text_mask(text=text, start=start, end=end)
    return PLACES[chosen[0]].zone, text


# Words that end the name of a place said: "flete a villa tranquila por favor".
_AFTER_PLACE = frozenset("por para con y que porque pero el la los las un una de del si sin gracias favor".split())


def place_unknown(*, text: str) -> str | None:
    """The place a message names as a destination or home that the gazetteer does not know
    ("flete a villa tranquila"), as written in `text` (normalised); None when there is none."""
    for match in _NAMED_PLACE_RE.finditer(text):
        words = match.group(1).split()
        said = " ".join(words[: next((i for i, w in enumerate(words) if i and w in _AFTER_PLACE), len(words))])
        if not (_ANYWHERE_RE.search(said) or _IN_CONTEXT_RE.search(match.group(0)) or _fuzzy_find(match.group(0))):
            return said
    return None
