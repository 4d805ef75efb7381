"""Text as the agents' patterns read it: lower case, without accents ("Cómo" -> "como")."""

from __future__ import annotations

import unicodedata


def plain(text: str) -> str:
    return unicodedata.normalize("NFKD", text.lower()).encode("ascii", "ignore").decode()
