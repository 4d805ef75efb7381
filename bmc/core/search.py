"""Search as staff type it: a quote or order by its number (COT-000003, cot 3), a customer by a
phone written any common way (099 123 456, 0991-23456, +598 99 123 456: all +59899123456), a
conversation by words of its messages (PostgreSQL's Spanish full-text search; on SQLite every
word, as written, somewhere in its messages)."""

from __future__ import annotations

import re

import phonenumbers
from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet

from bmc.conversations.models import Message

NUMBER = re.compile(r"^\s*(?P<prefix>[A-Za-z]{3})[-\s#]*0*(?P<id>\d{1,12})\s*$")
# the country a phone written without one is read in (a local 09x mobile, a 2xxx landline)
PHONE_REGION = "UY"


def record_number_id(text: str, prefix: str) -> int | None:
    """The id in a record number of this prefix ('COT-000003', 'cot 3' -> 3), or None."""
    match = NUMBER.match(text)
    if not match or match["prefix"].upper() != prefix.upper():
        return None
    return int(match["id"])


def phone_e164(text: str) -> str | None:
    """The phone number staff typed, in E.164, or None when it is not one."""
    if sum(ch.isdigit() for ch in text) < 6 or re.search(r"[A-Za-z]", text):
        return None
    try:
        number = phonenumbers.parse(text, PHONE_REGION)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def messages_matching(messages: QuerySet, words: str) -> QuerySet:
    """The messages that say these words: full-text in Spanish (stems: 'techos' finds 'techo')
    on PostgreSQL, every word contained on SQLite."""
    words = words.strip()
    if not words:
        return messages.none()
    if connection.vendor == "postgresql":
        from django.contrib.postgres.search import SearchQuery, SearchVector

        # the same expression as the index of migration workspace 0002, so the index answers
        return messages.annotate(search=SearchVector("text", config="spanish")).filter(
            search=SearchQuery(words, config="spanish", search_type="websearch")
        )
    condition = Q()
    for word in words.split():
        condition &= Q(text__icontains=word)
    return messages.filter(condition)


def conversations_saying(conversations: QuerySet, words: str) -> QuerySet:
    """The conversations with a message that says these words."""
    said = messages_matching(Message.objects.filter(conversation=OuterRef("pk")), words)
    return conversations.filter(Exists(said))
