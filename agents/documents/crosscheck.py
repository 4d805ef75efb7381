"""A batch's callback, once every document is done: its documents checked against each other and
the database (an invoice number seen once, a receipt paying something known, an order matching
its quote), scored, the failed or doubtful ones sent to review, and the batch summed up."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Q
from django.db.models.functions import Upper
from django.utils import timezone
from django.utils.translation import gettext

from agents.documents.validation import quality_score
from bmc.documents.models import Document, DocumentBatch
from bmc.quotes.models import Quote
from bmc.sales.models import Invoice

Kind = Document.Kind
Stage = Document.Stage
Status = Document.Status
REVIEW_BELOW = 0.75  # quality under this goes to a person


def batch_crosscheck(*, batch_id: int) -> dict[str, Any]:
    """Every document of the batch is done: check them against each other and the database, score
    the batch, and send failed or doubtful documents to review. Idempotent."""
    batch = DocumentBatch.objects.get(pk=batch_id)
    if batch.status == DocumentBatch.Status.DONE:
        return batch.summary  # the chord's callback and the watchdog may both get here
    Document.objects.filter(batch=batch).exclude(status__in=Document.FINAL).update(
        status=Status.FAILED,
        error=gettext("its processing never finished (a worker was lost); read it again or review it"),
    )
    documents = list(Document.objects.filter(batch=batch).select_related("duplicate_of"))
    read = [d for d in documents if d.status == Status.DONE]
    findings = _read_crosscheck(read, CrossContext.build(batch, read))
    _review_mark(documents)
    Document.objects.bulk_update(documents, ["checks", "quality", "review", "review_reason", "stage"])
    summary = _batch_summary(documents, read, findings)
    DocumentBatch.objects.filter(pk=batch.pk, status=DocumentBatch.Status.RUNNING).update(
        status=DocumentBatch.Status.DONE, summary=summary, finished_at=timezone.now()
    )
    return summary


def _read_crosscheck(read: list[Document], context: CrossContext) -> list[str]:
    """The documents read: their cross-checks replaced by this batch's, their quality scored
    again. Returns the findings, one line per failed cross-check."""
    findings: list[str] = []
    for document in read:
        extra = _crosschecks(document, context)
        document.checks = [c for c in document.checks if not c["check"].startswith("cross_")] + extra
        findings += [f"{document.filename}: {c['detail']}" for c in extra if not c["ok"]]
        document.quality = quality_score(
            kind_confidence=document.kind_confidence or 0.0,
            kind=document.kind,
            fields=document.fields,
            checks=document.checks,
        )
    return findings


def _review_mark(documents: list[Document]) -> None:
    """Each document with a reason to be looked at waits for review (unless a person has been
    asked already); the ones read are at the cross-check stage."""
    for document in documents:
        reason = _review_reason(document)
        if reason and document.review == Document.Review.NOT_NEEDED:
            document.review, document.review_reason = Document.Review.PENDING, reason[:300]
        document.stage = Stage.CROSSCHECK if document.status == Status.DONE else document.stage


def _batch_summary(documents: list[Document], read: list[Document], findings: list[str]) -> dict[str, Any]:
    qualities = [d.quality for d in read if d.quality is not None]
    return {
        "documents": len(documents),
        "by_status": dict(Counter(d.status for d in documents)),
        "by_kind": dict(Counter(d.kind or "unread" for d in read)),
        "to_review": sum(1 for d in documents if d.review == Document.Review.PENDING),
        "quality": round(sum(qualities) / len(qualities), 3) if qualities else None,
        "findings": findings,
    }


def _review_reason(document: Document) -> str:
    if document.status == Status.FAILED:
        return gettext("could not be read: %(error)s") % {"error": document.error}
    if document.status == Status.DUPLICATE:
        original = document.duplicate_of
        if original is not None and original.status == Status.FAILED:
            return gettext("a copy of '%(file)s', which could not be read: %(error)s") % {
                "file": original.filename,
                "error": original.error,
            }
        return ""
    failed = [c["detail"] for c in document.checks if not c["ok"]]
    if failed:
        return "; ".join(failed)
    if document.quality is not None and document.quality < REVIEW_BELOW:
        return gettext("low confidence (%(quality)s): read as %(kind)s") % {
            "quality": f"{document.quality:.2f}",
            "kind": document.get_kind_display().lower(),
        }
    return ""


@dataclass
class CrossContext:
    """What the cross-checks compare a batch with, looked up once for the whole batch."""

    invoices_by_number: dict[str, list[Document]]
    invoices_by_total: dict[Decimal, list[Document]]
    earlier_numbers: set[str]  # invoice numbers received in earlier batches
    loaded_numbers: set[str]  # numbers of the invoices loaded under Collections

    @classmethod
    def build(cls, batch: DocumentBatch, read: list[Document]) -> CrossContext:
        by_number: dict[str, list[Document]] = {}
        by_total: dict[Decimal, list[Document]] = {}
        for document in read:
            if document.kind != Kind.INVOICE:
                continue
            if document.fields.get("number"):
                by_number.setdefault(document.fields["number"], []).append(document)
            if document.fields.get("total"):
                by_total.setdefault(Decimal(document.fields["total"]), []).append(document)
        numbers = list(by_number)
        earlier = (
            set(
                Document.objects.filter(tenant_id=batch.tenant_id, kind=Kind.INVOICE, fields__number__in=numbers)
                .exclude(batch_id=batch.pk)
                .exclude(status=Status.FAILED)
                .values_list("fields__number", flat=True)
            )
            if numbers
            else set()
        )
        loaded = (
            set(
                Invoice.objects.filter(tenant_id=batch.tenant_id)
                .annotate(upper=Upper("number"))
                .filter(upper__in=[n.upper() for n in numbers])
                .values_list("upper", flat=True)
            )
            if numbers
            else set()
        )  # only this batch's numbers, not every invoice the company ever loaded
        return cls(by_number, by_total, earlier, loaded)


def _crosschecks(document: Document, context: CrossContext) -> list[dict[str, Any]]:
    fields, checks = document.fields, []
    total = Decimal(fields["total"]) if "total" in fields else None
    if document.kind == Kind.INVOICE and fields.get("number"):
        checks.append(_invoice_once(document, context))
    if document.kind == Kind.PAYMENT_RECEIPT and total is not None:
        checks.append(_receipt_match(document, total, context))
    if document.kind == Kind.PURCHASE_ORDER and fields.get("quote_refs"):
        checks.append(_order_match(document, total))
    return checks


def _invoice_once(document: Document, context: CrossContext) -> dict[str, Any]:
    """An invoice's number must appear once: in this batch (from the same RUT), in earlier
    batches, among the invoices loaded."""
    fields = document.fields
    number = fields["number"]
    twins = [
        d.filename
        for d in context.invoices_by_number.get(number, [])
        if d.pk != document.pk and d.fields.get("rut") == fields.get("rut")
    ]
    if twins:
        detail = gettext("invoice %(number)s also in this batch (%(files)s)") % {
            "number": number,
            "files": ", ".join(twins),
        }
    elif number in context.earlier_numbers:
        detail = gettext("invoice %(number)s already received") % {"number": number}
    elif number.upper() in context.loaded_numbers:
        detail = gettext("invoice %(number)s already loaded as an invoice") % {"number": number}
    else:
        detail = ""
    return {
        "check": "cross_duplicate_invoice",
        "ok": not detail,
        "detail": detail or gettext("invoice %(number)s seen once") % {"number": number},
    }


def _receipt_match(document: Document, total: Decimal, context: CrossContext) -> dict[str, Any]:
    """A receipt should pay something we know: an invoice or a quote, by reference and amount."""
    fields = document.fields
    refs = set(fields.get("invoice_refs", [])) | set(fields.get("quote_refs", []))
    for other in context.invoices_by_total.get(total, []):
        if not refs or other.fields.get("number") in refs:
            return {
                "check": "cross_receipt_match",
                "ok": True,
                "detail": gettext("pays invoice %(number)s in this batch (%(total)s)")
                % {"number": other.fields.get("number"), "total": total},
            }
    open_invoices = Invoice.objects.filter(tenant_id=document.tenant_id, status__in=["open", "payment_claimed"])
    for invoice in open_invoices.filter(Q(number__in=refs) | Q(amount=total)):
        if total in (invoice.balance, invoice.amount):
            return {
                "check": "cross_receipt_match",
                "ok": True,
                "detail": gettext("pays invoice %(number)s (%(total)s)")
                % {"number": invoice.number, "total": f"{total} {invoice.currency}"},
            }
    quotes = Quote.objects.filter(tenant_id=document.tenant_id, total=total)
    for quote in quotes:
        if not refs or quote.number in refs:
            return {
                "check": "cross_receipt_match",
                "ok": True,
                "detail": gettext("pays quote %(number)s (%(total)s)") % {"number": quote.number, "total": total},
            }
    return {
        "check": "cross_receipt_match",
        "ok": False,
        "detail": gettext("a payment of %(total)s matches no invoice or quote (it mentions %(refs)s)")
        % {"total": total, "refs": ", ".join(sorted(refs))}
        if refs
        else gettext("a payment of %(total)s matches no invoice or quote") % {"total": total},
    }


def _order_match(document: Document, total: Decimal | None) -> dict[str, Any]:
    number = document.fields["quote_refs"][0]
    try:
        quote = Quote.objects.get(tenant_id=document.tenant_id, pk=int(number.split("-")[1]))
    except (Quote.DoesNotExist, ValueError, IndexError):
        return {
            "check": "cross_order_quote",
            "ok": False,
            "detail": gettext("the order names quote %(number)s, which does not exist") % {"number": number},
        }
    if total is not None and total != quote.total:
        return {
            "check": "cross_order_quote",
            "ok": False,
            "detail": gettext("the order's total %(total)s differs from quote %(number)s (%(quote_total)s)")
            % {"total": total, "number": number, "quote_total": quote.total},
        }
    return {
        "check": "cross_order_quote",
        "ok": True,
        "detail": gettext("matches quote %(number)s (%(total)s)") % {"number": number, "total": quote.total},
    }
