"""Tokens a source hands out (MercadoLibre's rotating refresh token, its access token), kept
encrypted at rest with Fernet under a key derived from SYNC_SECRETS_KEY (SECRET_KEY when unset):
a copy of the database alone does not give them away."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


def _fernet() -> Fernet:
    secret = settings.SYNC_SECRETS_KEY or settings.SECRET_KEY
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(f"bmc-sync:{secret}".encode()).digest()))


def secrets_seal(values: dict[str, Any]) -> str:
    return _fernet().encrypt(json.dumps(values).encode()).decode()


def secrets_open(sealed: str) -> dict[str, Any]:
    """The sealed values; {} for none, and for a seal made under another key (the key changed:
    the source starts again from its configured credentials)."""
    if not sealed:
        return {}
    try:
        return json.loads(_fernet().decrypt(sealed.encode()))
    except InvalidToken:
        return {}
