"""Readers of a reply within a dialogue the agents started: what a customer's answer says about
the question it answers (paid or not). The NLU reads a message alone; these read it in context."""

from __future__ import annotations

import re

from agents.text import plain

# "ya pagué", "te transferí", "te paso el comprobante": said paid, not asking how to pay
PAID_RE = re.compile(
    r"\b(?:pague|pagamos|pagado|transferi|transferimos|transferido|deposite|depositamos|depositado|abone|abonamos"
    r"|gire|giramos|hice\s+(?:la|el)\s+(?:transferencia|deposito|pago)|comprobante|recibo)\b"
)


def says_paid(text: str) -> bool:
    """The customer says they paid (or sends the proof), rather than asking how to pay."""
    return bool(PAID_RE.search(plain(text)))
