"""Which kind of document a text is: keyword evidence per kind, the margin over the runner-up as
the confidence."""

from __future__ import annotations

import re

from agents.documents.formats import tidy
from agents.text import plain
from bmc.documents.models import Document

Kind = Document.Kind

CLASSIFIERS: dict[str, list[tuple[str, int]]] = {
    Kind.INVOICE: [
        (r"\be-?factura\b", 4),
        (r"\be-?ticket\b", 3),
        (r"\bfactura\b", 2),
        (r"\bcfe\b", 2),
        (r"\bcomprobante fiscal\b", 2),
        (r"\brut (?:emisor|vendedor)\b", 2),
        (r"\bfecha de vencimiento\b", 1),
        (r"\biva\b", 1),
        (r"\bserie\b", 1),
    ],
    Kind.PURCHASE_ORDER: [
        (r"\borden de compra\b", 5),
        (r"\bpurchase order\b", 4),
        (r"\bo/c\b", 2),
        (r"\bproveedor\b", 1),
        (r"\bentregar en\b|\blugar de entrega\b", 1),
        (r"\bsolicitamos\b", 1),
    ],
    Kind.PAYMENT_RECEIPT: [
        (r"\bcomprobante de (?:transferencia|pago|deposito)\b", 5),
        (r"\btransferencia\b", 2),
        (r"\bcuenta (?:origen|destino|de origen|de destino)\b", 2),
        (r"\b(?:numero|nro\.?|n°) de (?:operacion|transaccion)\b|\breferencia\b", 1),
        (r"\b(?:brou|itau|santander|scotiabank|bbva|hsbc|heritage|bandes|banco republica)\b", 1),
        (r"\bimporte (?:transferido|debitado)\b|\bmonto transferido\b", 2),
    ],
    Kind.DELIVERY_NOTE: [
        (r"\bremito\b", 5),
        (r"\bnota de entrega\b", 4),
        (r"\brecibi conforme\b", 2),
        (r"\btransportista\b", 1),
        (r"\bcantidad entregada\b", 1),
    ],
    Kind.QUOTE_REQUEST: [
        (r"\b(?:cotizar|cotizacion|presupuesto)\b", 2),
        (r"\b(?:solicito|necesito|quisiera|me pasan|podrian)\b", 1),
        (r"\b(?:paneles?|isodec|isopanel|isofrig)\b", 1),
    ],
}


def classify_text(text: str) -> tuple[str, float]:
    """(kind, confidence): keyword evidence per kind; the margin over the runner-up is the
    confidence. No evidence at all is `other` with low confidence."""
    body = plain(tidy(text))
    scores = {
        kind: sum(weight for pattern, weight in rules if re.search(pattern, body))
        for kind, rules in CLASSIFIERS.items()
    }
    ranked = sorted(scores.items(), key=lambda item: item[1], reverse=True)
    (best, top), (_, second) = ranked[0], ranked[1]
    if top == 0:
        return Kind.OTHER, 0.3 if body.strip() else 0.0
    return best, round(min(1.0, (top - second + 1) / (top + 1) + 0.2 * min(top, 5) / 5), 2)
