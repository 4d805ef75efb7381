"""A person's decision on a document: approve the reading, correct fields (each change kept, the
checks run again on the corrected reading) or reject it; and, from those corrections, how often
the reading was right, per field."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext
from stdnum.uy import rut as uy_rut

from agents.documents.fields import date_parse, money
from agents.documents.intake import DocumentError
from agents.documents.validation import REQUIRED, validate_fields
from agents.events import event_emit
from agents.staff import staff_language
from bmc.documents.models import Document, DocumentCorrection

Kind = Document.Kind
REVIEWABLE_FIELDS = ("kind", "number", "rut", "issue_date", "due_date", "currency", "subtotal", "iva", "total")
REVIEW_ACTIONS = ("approve", "correct", "reject")


def document_review(
    *, document: Document, action: str, corrections: dict[str, Any], user, via: str, note: str = ""
) -> list[dict[str, Any]]:
    """approve: the reading stands. correct: the given fields are replaced and each change kept
    as a DocumentCorrection, then the document's checks run again on them: while one fails, the
    document keeps waiting for review (the corrections stay). reject: the document is not what it
    claims, or unusable. `user` and `via` (the admin, or which API key) say who decided.
    Returns the checks that still fail after a correction (empty otherwise). A request refused is
    said in the request's language; what is stored (the checks, the review reason) in staff's."""
    _review_request_check(action=action, corrections=corrections)
    corrections = {field: _correction_clean(field, value) for field, value in corrections.items()}
    with staff_language(), transaction.atomic():
        document = Document.objects.select_for_update().get(pk=document.pk)
        changed = _corrections_apply(document, corrections=corrections, user=user, via=via)
        DocumentCorrection.objects.bulk_create(changed)
        failing = _checks_rerun(document) if changed else []
        document.review, note = _review_outcome(action=action, changed=bool(changed), failing=failing, note=note)
        document.review_reason = (note or document.review_reason)[:300]
        document.reviewed_by, document.reviewed_via, document.reviewed_at = user, via[:120], timezone.now()
        document.save(
            update_fields=[
                "kind",
                "fields",
                "checks",
                "review",
                "review_reason",
                "reviewed_by",
                "reviewed_via",
                "reviewed_at",
                "updated_at",
            ]
        )
        event_emit(
            tenant=document.tenant,
            type="document.reviewed",
            subject=f"document:{document.pk}",
            data={
                "document_id": document.pk,
                "batch_id": document.batch_id,
                "kind": document.kind,
                "review": document.review,
                "fields": document.fields,
                "failing_checks": failing,
                "via": document.reviewed_via,
            },
        )
    return failing


def _review_request_check(*, action: str, corrections: dict[str, Any]) -> None:
    unknown = set(corrections) - set(REVIEWABLE_FIELDS)
    if unknown:
        raise DocumentError(
            gettext("cannot correct %(fields)s; fields are %(allowed)s.")
            % {"fields": ", ".join(sorted(unknown)), "allowed": ", ".join(REVIEWABLE_FIELDS)}
        )
    if action not in REVIEW_ACTIONS:
        raise DocumentError(
            gettext("'%(action)s' is not a review action: approve, correct or reject.") % {"action": action}
        )


def _corrections_apply(document: Document, *, corrections: dict[str, Any], user, via: str) -> list[DocumentCorrection]:
    """The corrected values written on the document (not saved); returns a DocumentCorrection per
    value that differs from the reading (not saved either)."""
    fields = dict(document.fields)
    changed = []
    for field, value in corrections.items():
        before = document.kind if field == "kind" else fields.get(field)
        if str(before or "") == str(value or ""):
            continue
        if value is None:
            fields.pop(field, None)
        changed.append(
            DocumentCorrection(
                tenant_id=document.tenant_id,
                document=document,
                field=field,
                extracted=before,
                corrected=value,
                user=user,
                via=via[:120],
            )
        )
        if field == "kind":
            document.kind = value
        elif value is not None:
            fields[field] = value
    if "rut" in corrections:
        fields["rut_valid"] = uy_rut.is_valid(str(corrections["rut"]))
    document.fields = fields
    return changed


def _checks_rerun(document: Document) -> list[dict[str, Any]]:
    """The document's own checks run again on its corrected fields (its batch's cross-checks
    kept); returns those that fail."""
    document.checks = validate_fields(document.fields, document.kind, today=timezone.localdate()) + [
        c for c in document.checks if c["check"].startswith("cross_")
    ]
    return [c for c in document.checks if not c["ok"] and not c["check"].startswith("cross_")]


def _review_outcome(*, action: str, changed: bool, failing: list[dict[str, Any]], note: str) -> tuple[str, str]:
    """(review, note): a correction that does not add up yet keeps the document waiting."""
    if action == "correct" and failing:
        return Document.Review.PENDING, gettext("after correction: %(failing)s") % {
            "failing": "; ".join(c["detail"] for c in failing)
        }
    review = {
        "approve": Document.Review.APPROVED,
        "reject": Document.Review.REJECTED,
        "correct": Document.Review.CORRECTED if changed else Document.Review.APPROVED,
    }[action]
    return review, note


def _correction_clean(field: str, value: Any) -> Any:
    """A person's value, checked and written the way the reader writes it."""
    text = str(value if value is not None else "").strip()
    if field == "kind":
        if text not in Kind.values:
            raise DocumentError(
                gettext("kind '%(kind)s' is not one of %(kinds)s.") % {"kind": text, "kinds": ", ".join(Kind.values)}
            )
        return text
    if not text:
        return None
    if field in ("subtotal", "iva", "total"):
        amount = money(text)
        if amount is None:
            raise DocumentError(
                gettext("%(field)s '%(value)s' is not an amount, e.g. 1816.95 or 1.816,95.")
                % {"field": field, "value": text}
            )
        return str(amount)
    if field in ("issue_date", "due_date"):
        day = date_parse(text)
        if day is None:
            raise DocumentError(
                gettext("%(field)s '%(value)s' is not a date, e.g. 2026-11-12 or 12/11/2026.")
                % {"field": field, "value": text}
            )
        return day.isoformat()
    if field == "rut":
        return re.sub(r"\D", "", text)
    if field == "currency" and text.upper() not in ("USD", "UYU"):
        raise DocumentError(gettext("currency '%(value)s' is USD or UYU.") % {"value": text})
    return text.upper() if field == "currency" else text[:60]


def extraction_accuracy(*, tenant_id: int) -> dict[str, dict[str, Any]]:
    """Per field, over reviewed documents: how often the reading was right (a correction means it
    was not)."""
    reviewed = Document.objects.filter(
        tenant_id=tenant_id, review__in=[Document.Review.APPROVED, Document.Review.CORRECTED]
    ).values_list("pk", "kind", "fields")
    totals: dict[str, int] = {}
    for _, kind, fields in reviewed:
        for field in REVIEWABLE_FIELDS:
            if field == "kind" or field in fields or field in REQUIRED.get(kind, ()):
                totals[field] = totals.get(field, 0) + 1
    wrong = Counter(DocumentCorrection.objects.filter(tenant_id=tenant_id).values_list("field", flat=True))
    return {
        field: {
            "reviewed": count,
            "corrected": wrong.get(field, 0),
            "accuracy": round(1 - wrong.get(field, 0) / count, 3),
        }
        for field, count in sorted(totals.items())
    }
