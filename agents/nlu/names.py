"""The customer's own name ("soy Pablo Gimenez", "les escribe el arq. Pablo") and e-mail."""

from __future__ import annotations

import re

from agents.nlu.places import PLACE_ZONE, PLACES
from agents.nlu.text import EMAIL_RE, text_normalize

# Capitalised words after "soy ..." are a name; lowercase ones only after "me llamo"/"mi nombre es"
# or when the first word is a known first name, so "soy de salto" or "soy cliente" are not names.
_NAME_RE = re.compile(
    r"(?i:\b(soy|mi\s+nombre\s+es|me\s+llamo|les\s+habla|te\s+habla|les\s+escribe|te\s+escribe|le\s+escribe"
    r"|(?:^|(?<=[,.!¡]\s)|(?<=[,.!¡]))habla(?:\s+eh)?|saludos[,.]?|atentamente[,.]?|atte\.?,?|cordialmente[,.]?"
    r"|(?:(?<=[.!?]\s)|^)(?:muchas\s+)?gracias,|un\s+saludo,|mis\s+datos\s*:|a\s+nombre\s+de)\s+"
    # a title between: "les escribe el arq. Pablo Gimenez", "Ing. Agr. Pablo Arrieta"
    r"(?:(?:el|la)\s+)?(?:(?:arq|ing|agr|dr|dra|sr|sra|esc|cr|lic|arquitect[oa]|ingenier[oa]|contador[a]?|director[a]?"
    r"|maestr[oa]|prof)\.?\s+){0,2})"
    r"((?:[^\W\d_][^\W\d_'’-]*(?:['’-][^\W\d_]+)?)(?:[ \t]+[^\W\d_][^\W\d_'’-]*(?:['’-][^\W\d_]+)?){0,3})"
)
_NAME_STOPWORDS = frozenset(
    (
        "a abrazo abrazos al arq arquitecta arquitecto atentamente bendiciones buen buenas busco clienta cliente como "
        "con constructor consulto cordial cordiales cordialmente exitos gracias muchas saludo saludos slds "
        "cuanto de del desde duena dueno e el en encargada encargado escribo estoy gracias hablo hola ing "
        "ingeniera ingeniero la las le les los me mi necesitaria necesito no nueva nuevo o para pero por "
        "porque precio que queria quien quiero quisiera si soy sr sra su te tengo trabajo tu un una vivo y ya "
        "yo"
    ).split()
)
# Capitalised last sentences that sign nothing: thanks, products, yes and no.
_NOT_SIGNATURES = frozenset(
    "gracias saludos abrazo dale ok okey perfecto listo bien bueno genial barbaro isodec isopanel isowall isoroof "
    "isofrig eps pir urgente espero quedo quedamos avisen aviso confirmo confirmen slds".split()
)
_FIRST_NAMES = frozenset(
    (
        "adriana agustin agustina alberto alejandra alejandro alvaro ana andrea andres antonio ariel beatriz "
        "bruno camila carlos carolina cecilia cesar claudia cristian cristina damian daniel daniela diego "
        "dolores eduardo elena emilia emiliano enrique esteban fabian facundo federico felipe fernanda fernando "
        "florencia francisco franco gabriel gabriela gonzalo graciela guillermo gustavo hector hugo ignacio "
        "ines javier joaquin jorge jose josefina juan julio laura leandro leonardo lorena lucas lucia luis "
        "manuel marcelo marcos maria mariana mario martin martina mateo matias mauricio maximiliano miguel "
        "mercedes monica natalia nestor nicolas oscar pablo patricia paula pedro rafael ramon raul ricardo roberto "
        "rodrigo romina rosa rosario ruben santiago sebastian sergio silvia sofia soledad susana tomas valentina "
        "valeria veronica victor victoria walter"
    ).split()
)


# A message signed with a name alone, as its last sentence: "... Gracias. Ignacio Bonilla, Agropecuaria
# Los Talas.", "... Es el pedido 6032. Inés."
_SIGNATURE_RE = re.compile(
    r"[.!?]\s+(?:(?i:arq|ing|agr|dr|dra|sr|sra|lic)\.\s+)*"
    r"((?:[A-ZÁÉÍÓÚÑ][a-záéíóúñü]+)(?:\s+(?:(?:da|de|del|dos)\s+)?[A-ZÁÉÍÓÚÑ][a-záéíóúñü]+){0,2})"
    r"\s*(?:(?:,|\s[–-])\s*[^.!?]*)?[.!]?\s*$"
)


# An e-mail pasted in: the closing on a line of its own, the name on the next one.
_CLOSING_LINE_RE = re.compile(
    r"(?i)^(?:saludos(?:\s+cordiales)?|atentamente|atte\.?|cordialmente|(?:muchas\s+)?gracias|un\s+saludo"
    r"|quedo\s+a\s+(?:la\s+)?espera|sin\s+otro\s+particular)[,.!]?$"
)
_NAME_LINE_RE = re.compile(
    r"^(?:(?i:arq|ing|agr|dr|dra|sr|sra|lic|cr|esc)\.\s+)*"
    r"([A-ZÁÉÍÓÚÑ][a-záéíóúñü]+(?:\s+(?:(?:da|de|del|dos)\s+)?[A-ZÁÉÍÓÚÑ][a-záéíóúñü]+){1,2})$"
)


def name_extract(*, text: str) -> str | None:
    return _name_said(text=text) or _signature_lines_find(text=text) or _signature_find(text=text)


def _signature_lines_find(*, text: str) -> str | None:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for closing, following in zip(lines, lines[1:], strict=False):
        match = _CLOSING_LINE_RE.match(closing) and _NAME_LINE_RE.match(following)
        if match and text_normalize(text=match.group(1)) not in PLACES:
            return match.group(1)
    return None


def _signature_find(*, text: str) -> str | None:
    match = _SIGNATURE_RE.search(text.strip())
    if not match:
        return None
    words = match.group(1).split()
    plain = text_normalize(text=match.group(1))
    if plain in PLACES or any(text_normalize(text=w) in _NAME_STOPWORDS | _NOT_SIGNATURES for w in words):
        return None
    if len(words) == 1 and plain not in _FIRST_NAMES:  # "Avancemos.", "Procedan.": a word, not a name
        return None
    return match.group(1)


def _name_said(*, text: str) -> str | None:
    for match in _NAME_RE.finditer(text):
        trigger = re.sub(r"\s+", " ", match.group(1).lower())
        words = _name_words(words=match.group(2).split(), explicit=trigger in {"mi nombre es", "me llamo"})
        if words:
            return " ".join(w if w[0].isupper() else w.capitalize() for w in words)
    return None


def _name_words(*, words: list[str], explicit: bool) -> list[str]:
    """The words after "soy ..." that are still the name: where the name ends, the message begins."""
    taken: list[str] = []
    for word in words:
        plain = text_normalize(text=word)
        if plain in _NAME_STOPWORDS or (plain in PLACE_ZONE and plain not in _FIRST_NAMES):
            break
        capitalised = word[0].isupper()
        if not taken and not (capitalised or explicit or plain in _FIRST_NAMES):
            break
        if taken and not capitalised and not (explicit or taken[0].islower()):
            break
        # An all-lowercase name is trusted for first name and surname only: what follows is the message.
        if taken and not capitalised and not explicit and len(taken) >= 2:
            break
        taken.append(word)
    return taken


def email_extract(*, text: str) -> str | None:
    match = EMAIL_RE.search(text)
    return match.group(0).rstrip(".") if match else None
