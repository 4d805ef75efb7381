"""The five stages of one document, each run by a task in tasks/documents.py: ingest, text,
classification, fields, validation. Each loads the document only while it still has work (an
earlier stage may have failed it), and saves its result unless the document is final already."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from django.utils.translation import gettext

from agents.documents.classification import classify_text
from agents.documents.fields import extract_fields
from agents.documents.formats import MAX_PAGES, pdf_open, text_extract, zip_check
from agents.documents.intake import DocumentError, file_type_detect
from agents.documents.validation import quality_score, validate_fields
from bmc.documents.models import Document

Stage = Document.Stage
Status = Document.Status


def _load(document_id: int, *, content: bool = False, text: bool = False) -> Document | None:
    """The document, if this stage has work on it (an earlier stage may have failed it); its
    file's bytes and its extracted text only for the stages that read them."""
    documents = Document.objects.select_related("blob") if content else Document.objects.all()
    document = (documents if text else documents.defer("text")).get(pk=document_id)
    if document.status in Document.FINAL:
        return None  # failed, a duplicate, or read already (a redelivered stage)
    return document


def _save(document: Document, stage: str, **fields: Any) -> None:
    """A stage's result. A document already final (failed by the watchdog, or read) stays so: a
    late or redelivered stage does not reopen it."""
    fields.setdefault("status", Status.RUNNING)
    Document.objects.filter(pk=document.pk).exclude(status__in=Document.FINAL).update(
        stage=stage, updated_at=timezone.now(), **fields
    )


def document_fail(*, document_id: int, stage: str, reason: str) -> None:
    Document.objects.filter(pk=document_id).exclude(status__in=Document.FINAL).update(
        stage=stage, status=Status.FAILED, error=reason[:2000], updated_at=timezone.now()
    )


def document_ingest(*, document_id: int) -> None:
    document = _load(document_id, content=True)
    if document is None:
        return
    content = bytes(document.blob.content)
    detected = file_type_detect(content)
    pages = None
    if detected == "pdf":
        pages = len(pdf_open(content).pages)
        if pages > MAX_PAGES:
            raise DocumentError(
                gettext("%(pages)s pages: at most %(limit)s per document.") % {"pages": pages, "limit": MAX_PAGES}
            )
    if detected == "xlsx":
        zip_check(content)
    original = (
        Document.objects.filter(tenant_id=document.tenant_id, sha256=document.sha256, pk__lt=document.pk)
        .exclude(status=Status.FAILED)
        .order_by("pk")
        .first()
    )
    if original:
        _save(
            document,
            Stage.INGEST,
            status=Status.DUPLICATE,
            file_type=detected,
            pages=pages,
            duplicate_of=original,
            error=gettext("the same file as '%(file)s' (batch %(batch)s): not read again.")
            % {"file": original.filename, "batch": original.batch_id},
        )
        return
    _save(document, Stage.INGEST, file_type=detected, pages=pages)


def document_extract_text(*, document_id: int) -> None:
    document = _load(document_id, content=True)
    if document is None:
        return
    text, ocr = text_extract(bytes(document.blob.content), file_type=document.file_type)
    _save(document, Stage.EXTRACT, text=text.replace("\x00", "")[:200_000], ocr=ocr[:120])


def document_classify(*, document_id: int) -> None:
    document = _load(document_id, text=True)
    if document is None:
        return
    kind, confidence = classify_text(document.text)
    _save(document, Stage.CLASSIFY, kind=kind, kind_confidence=confidence)


def document_extract_fields(*, document_id: int) -> None:
    document = _load(document_id, text=True)
    if document is None:
        return
    _save(document, Stage.FIELDS, fields=extract_fields(document.text, document.kind))


def document_validate(*, document_id: int) -> None:
    document = _load(document_id)
    if document is None:
        return
    checks = validate_fields(document.fields, document.kind, today=timezone.localdate())
    quality = quality_score(
        kind_confidence=document.kind_confidence or 0.0, kind=document.kind, fields=document.fields, checks=checks
    )
    _save(document, Stage.VALIDATE, status=Status.DONE, checks=checks, quality=quality)
