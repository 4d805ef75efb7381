"""The documents agent: reads invoices (CFE), purchase orders, payment receipts and delivery notes,
extracts what matters, checks them against each other and the database, and sends the doubtful
ones to a person.

Every document goes through five stages, each a function here and a task in tasks/documents.py:
ingest (type by content, limits, duplicates) → text (pypdf, openpyxl, email; OCR with Tesseract
where installed) → classification → fields (RUT with its check digit, numbers, dates, currency,
amounts, lines) → validation (lines and IVA add up, RUT valid, dates plausible). A stage that
meets a bad file marks that document failed with a reason a person can read and the rest of its
chain passes it by; the batch's callback (`batch_crosscheck`) runs when every chain is done.
"""

from __future__ import annotations

import csv
import email
import email.policy
import hashlib
import io
import re
import shutil
import subprocess
import zipfile
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import filetype
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.db.models.functions import Upper
from django.utils import timezone
from stdnum.uy import rut as uy_rut

from agents.text import plain
from bmc.documents.models import Document, DocumentBatch, DocumentBlob, DocumentCorrection
from bmc.quotes.models import Quote
from bmc.sales.models import Invoice

Kind = Document.Kind
Stage = Document.Stage
Status = Document.Status

MAX_BYTES = 20 * 1024 * 1024
MAX_PAGES = 50
MAX_UNZIPPED_BYTES = 100 * 1024 * 1024  # an XLSX is a zip: more than this unpacked is a bomb
MAX_ZIP_RATIO = 100
ALLOWED_TYPES = ("pdf", "png", "jpeg", "txt", "csv", "xlsx", "eml")
REVIEW_BELOW = 0.75  # quality under this goes to a person
CENT = Decimal("0.01")
IVA_RATES = (Decimal("0.22"), Decimal("0.10"))  # Uruguay: basic and minimum rates


class DocumentError(ValueError):
    """This file cannot be read: the reason, for a person."""


# --- intake ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Upload:
    filename: str
    content: bytes  # at most MAX_BYTES + 1 of them: a file over the limit is never read whole
    size: int | None = None  # the file's real size, when only its first bytes were read

    @classmethod
    def from_file(cls, file) -> Upload:
        """An uploaded file (Django's UploadedFile), read no further than the limit."""
        return cls(filename=file.name, content=file.read(MAX_BYTES + 1), size=file.size)

    @property
    def full_size(self) -> int:
        return self.size if self.size is not None else len(self.content)


def file_type_detect(content: bytes) -> str:
    """The file's type from its bytes, never its name. Raises DocumentError for anything else."""
    kind = filetype.guess(content[:8192])
    if kind is not None:
        detected = {"pdf": "pdf", "png": "png", "jpg": "jpeg", "xlsx": "xlsx"}.get(kind.extension)
        if detected:
            return detected
        raise DocumentError(f"the content is {kind.mime}, not one of the accepted types ({', '.join(ALLOWED_TYPES)}).")
    text = _as_text(content)
    if text is None:
        raise DocumentError(f"the content is not a document this agent reads ({', '.join(ALLOWED_TYPES)}).")
    head = text[:2000]
    if re.search(r"^(?:From|To|Subject|Date|Message-ID|MIME-Version):", head, re.M) and re.search(
        r"^Subject:", head, re.M | re.I
    ):
        return "eml"
    lines = [line[:1000] for line in text.splitlines()[:20] if line.strip()]
    if len(lines) >= 2:
        try:
            dialect = csv.Sniffer().sniff("\n".join(lines), delimiters=",;\t")
            widths = {len(row) for row in csv.reader(lines, dialect)}
            if len(widths) == 1 and widths.pop() >= 2:
                return "csv"
        except csv.Error:
            pass
    return "txt"


def _as_text(content: bytes) -> str | None:
    for encoding in ("utf-8", "latin-1"):
        try:
            text = content.decode(encoding)
        except UnicodeDecodeError:
            continue
        printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text[:5000])
        if text and printable / min(len(text), 5000) > 0.97:
            return text
    return None


MAX_ATTACHMENTS = 20


def attachments_unpack(uploads: list[Upload]) -> list[Upload]:
    """An e-mail's attachments (the invoice sent as a PDF) are documents of their own, read in the
    same batch beside the e-mail: at most MAX_ATTACHMENTS per e-mail, each within the size limit."""
    unpacked: list[Upload] = []
    for upload in uploads:
        unpacked.append(upload)
        if not upload.content or len(upload.content) > MAX_BYTES:
            continue
        try:
            if file_type_detect(upload.content) != "eml":
                continue
        except DocumentError:
            continue
        message = email.message_from_bytes(upload.content, policy=email.policy.default)
        for number, attachment in enumerate(message.iter_attachments()):
            if number >= MAX_ATTACHMENTS:
                break
            content = attachment.get_payload(decode=True) or b""
            name = attachment.get_filename() or f"adjunto-{number + 1}"
            unpacked.append(
                Upload(
                    filename=f"{upload.filename} / {name}"[:255], content=content[: MAX_BYTES + 1], size=len(content)
                )
            )
    return unpacked


def batch_create(*, tenant, uploads: list[Upload], source: str, name: str = "", user=None, message=None):
    """Store a batch and its files (each file's bytes once per content; an e-mail's attachments
    as documents of their own). Files over the size limit are recorded as failed at once;
    everything else is judged by the ingest stage."""
    uploads = attachments_unpack(uploads)
    with transaction.atomic():
        batch = DocumentBatch.objects.create(
            tenant=tenant, source=source, name=name[:200], total=len(uploads), created_by=user
        )
        documents = []
        for upload in uploads:
            digest = hashlib.sha256(upload.content).hexdigest()
            document = Document(
                tenant=tenant,
                batch=batch,
                filename=(upload.filename or "sin-nombre")[:255],
                sha256=digest,
                size=upload.full_size,
                message=message,
            )
            if upload.full_size > MAX_BYTES:
                document.status, document.error = (
                    Status.FAILED,
                    (f"{upload.full_size / 1024 / 1024:.1f} MB: at most {MAX_BYTES // 1024 // 1024} MB per file."),
                )
            elif not upload.content:
                document.status, document.error = Status.FAILED, "the file is empty."
            else:
                document.blob = _blob_store(digest, upload.content)
            documents.append(document)
        Document.objects.bulk_create(documents)
    return batch


def _blob_store(digest: str, content: bytes) -> DocumentBlob:
    blob = DocumentBlob.objects.filter(pk=digest).only("sha256").first()
    if blob:
        return blob
    try:
        with transaction.atomic():
            return DocumentBlob.objects.create(sha256=digest, content=content, size=len(content))
    except IntegrityError:  # the same file uploaded at the same moment elsewhere
        return DocumentBlob.objects.only("sha256").get(pk=digest)


# --- the stages -----------------------------------------------------------------------------------


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
        pages = len(_pdf(content).pages)
        if pages > MAX_PAGES:
            raise DocumentError(f"{pages} pages: at most {MAX_PAGES} per document.")
    if detected == "xlsx":
        _zip_check(content)
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
            error=f"the same file as '{original.filename}' (batch {original.batch_id}): not read again.",
        )
        return
    _save(document, Stage.INGEST, file_type=detected, pages=pages)


def _pdf(content: bytes):
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(content), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise DocumentError("the PDF is protected with a password.")
        reader.pages[0]  # noqa: B018 - a PDF whose page tree cannot be read is damaged
        return reader
    except DocumentError:
        raise
    except (PdfReadError, ValueError, KeyError, IndexError, TypeError, AttributeError) as error:
        raise DocumentError(f"the PDF is damaged and cannot be read ({type(error).__name__}: {error}).") from None


def _zip_check(content: bytes) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile as error:
        raise DocumentError(f"the spreadsheet is damaged ({error}).") from None
    if unpacked > MAX_UNZIPPED_BYTES or unpacked > MAX_ZIP_RATIO * max(len(content), 1):
        raise DocumentError(
            f"the spreadsheet unpacks to {unpacked / 1024 / 1024:.0f} MB from {len(content) / 1024:.0f} KB: "
            "refused as a compression bomb."
        )


def document_extract_text(*, document_id: int) -> None:
    document = _load(document_id, content=True)
    if document is None:
        return
    content = bytes(document.blob.content)
    ocr = ""
    if document.file_type == "pdf":
        reader = _pdf(content)
        text = "\n".join((page.extract_text() or "") for page in reader.pages)
        if not text.strip():
            text, ocr = _ocr_pdf(reader)
    elif document.file_type in ("png", "jpeg"):
        text, ocr = _ocr(content)
    elif document.file_type == "xlsx":
        text = _xlsx_text(content)
    elif document.file_type == "eml":
        text = _eml_text(content)
    else:
        text = _as_text(content) or ""
    _save(document, Stage.EXTRACT, text=text.replace("\x00", "")[:200_000], ocr=ocr[:120])


def _ocr(image: bytes) -> tuple[str, str]:
    """Tesseract where installed; without it the text is empty and the reason is recorded."""
    binary = shutil.which("tesseract")
    if binary is None:
        return "", "unavailable: tesseract is not installed"
    result = subprocess.run(
        [binary, "stdin", "stdout", "-l", "spa+eng"], input=image, capture_output=True, timeout=60, check=False
    )
    if result.returncode != 0:
        return "", f"failed: {result.stderr.decode(errors='replace')[:80]}"
    return result.stdout.decode(errors="replace"), "done"


def _ocr_pdf(reader) -> tuple[str, str]:
    """A scanned PDF: its page images read one at a time (never all in memory at once)."""
    if shutil.which("tesseract") is None:
        return "", "unavailable: tesseract is not installed"
    texts, status = [], "no text and no images in the PDF"
    for page in reader.pages:
        for image in page.images:
            data = image.data
            if len(data) > MAX_BYTES:
                return "", "an image in the PDF is over 20 MB"
            text, status = _ocr(data)
            if status != "done":
                return "", status
            texts.append(text)
    return "\n".join(texts), status


def _xlsx_text(content: bytes) -> str:
    from openpyxl import load_workbook

    workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    lines = []
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows(values_only=True, max_row=5000):
            cells = [str(c) for c in row if c is not None]
            if cells:
                lines.append("  ".join(cells))
    workbook.close()
    return "\n".join(lines)


def _eml_text(content: bytes) -> str:
    message = email.message_from_bytes(content, policy=email.policy.default)
    parts = [f"Subject: {message.get('subject', '')}", f"From: {message.get('from', '')}"]
    body = message.get_body(preferencelist=("plain", "html"))
    if body is not None:
        text = body.get_content()
        parts.append(re.sub(r"<[^<>]{0,2000}>", " ", text) if body.get_content_subtype() == "html" else text)
    for attachment in message.iter_attachments():
        parts.append(f"[adjunto: {attachment.get_filename() or attachment.get_content_type()}]")
    return "\n".join(parts)


def tidy(text: str, *, line_chars: int = 300) -> str:
    """Text as the field patterns read it: one space between words, no blank lines, lines cut at
    `line_chars`. Hostile text (long runs of spaces, endless lines) then costs linear time."""
    lines = (re.sub(r"[^\S\n]+", " ", line).strip()[:line_chars] for line in text.splitlines())
    return "\n".join(line for line in lines if line)


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


def document_classify(*, document_id: int) -> None:
    document = _load(document_id, text=True)
    if document is None:
        return
    kind, confidence = classify_text(document.text)
    _save(document, Stage.CLASSIFY, kind=kind, kind_confidence=confidence)


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


# --- fields ---------------------------------------------------------------------------------------

RUT_RE = re.compile(r"(?<!\d)(\d{2})[ .-]?(\d{3})[ .]?(\d{3})[ .-]?(\d{3})[ .-]?(\d)(?!\d)")
DATE_RE = re.compile(r"(?<!\d)(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})(?!\d)|(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)")
AMOUNT = r"(\d{1,3}(?:[.,]\d{3})+(?:[.,]\d{2})?(?![\d.,]\d)|\d+(?:[.,]\d{1,2})?(?![\d.,]\d))"
NUMBER_LABELS = {
    Kind.INVOICE: r"(?:e-?factura|factura|cfe|e-?ticket)[^\n]{0,30}?(?:serie\s*)?([A-Z]{1,2})\s*(?:n[°ºo.]*|nro\.?|numero)?\s*[-: ]?\s*(\d{3,9})",
    Kind.PURCHASE_ORDER: r"orden de compra\s*(?:n[°ºo.]*|nro\.?|numero)?\s*[:#]?\s*([A-Z0-9][A-Z0-9-/]{2,20})",
    Kind.PAYMENT_RECEIPT: r"(?:n(?:ume)?ro\.? de (?:operacion|transaccion)|referencia|n° de operacion)\s*[:#]?\s*([A-Z0-9-]{4,30})",
    Kind.DELIVERY_NOTE: r"remito\s*(?:n[°ºo.]*|nro\.?|numero)?\s*[:#]?\s*([A-Z0-9][A-Z0-9-]{2,20})",
}
LINE_RE = re.compile(
    rf"^(?P<description>[^\d\n][^\n]*?)\s+(?P<quantity>\d+(?:[.,]\d+)?)\s+(?P<unit_price>{AMOUNT})\s+(?P<amount>{AMOUNT})\s*$",
    re.M,
)


def money(value: str) -> Decimal | None:
    """'1.816,95', '1,816.95', '1816.95', '12.500' (pesos), '1816' -> Decimal."""
    value = value.strip()
    if re.fullmatch(r"\d{1,3}(?:\.\d{3})+", value):  # dots between thousands, no cents
        value = value.replace(".", "")
    elif re.search(r",\d{1,2}$", value):
        value = value.replace(".", "").replace(",", ".")
    else:
        value = value.replace(",", "")
    try:
        return Decimal(value).quantize(CENT)
    except InvalidOperation:
        return None


def _labelled_amount(body: str, labels: str) -> Decimal | None:
    match = re.search(rf"(?<![a-z-])(?:{labels})[^\n\d]{{0,30}}?{AMOUNT}", body)
    return money(match.group(1)) if match else None


def _dates(body: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for label, key in (
        (r"(?:fecha de )?vencimiento|vence", "due_date"),
        (r"fecha(?: de emision| de la operacion| de pago)?|emitid[oa]", "issue_date"),
    ):
        match = re.search(rf"(?:{label})\s*[:]?\s*([0-9/.-]{{8,10}})", body)
        if match:
            parsed = _date(match.group(1))
            if parsed:
                found[key] = parsed.isoformat()
    if "issue_date" not in found:
        for match in DATE_RE.finditer(body):
            parsed = _date(match.group(0))
            if parsed:
                found["issue_date"] = parsed.isoformat()
                break
    return found


def _date(text: str) -> date | None:
    match = DATE_RE.search(text)
    if not match:
        return None
    try:
        if match.group(4):
            return date(int(match.group(4)), int(match.group(5)), int(match.group(6)))
        return date(int(match.group(3)), int(match.group(2)), int(match.group(1)))
    except ValueError:
        return None


def extract_fields(text: str, kind: str) -> dict[str, Any]:
    text = tidy(text)
    body = plain(text)
    fields: dict[str, Any] = {}
    ruts = ["".join(m.groups()) for m in RUT_RE.finditer(body)]
    if ruts:
        labelled = re.search(r"rut (?:emisor|vendedor|proveedor)?\s*[:]?\s*([\d .-]{12,17})", body)
        main = (
            "".join(RUT_RE.search(labelled.group(1)).groups())
            if labelled and RUT_RE.search(labelled.group(1))
            else ruts[0]
        )
        fields["rut"] = main
        fields["rut_valid"] = uy_rut.is_valid(main)
        others = [r for r in dict.fromkeys(ruts) if r != main]
        if others:
            fields["rut_other"] = others[0]
    label = NUMBER_LABELS.get(kind)
    if label:
        match = re.search(label, body, re.I)
        if match:
            fields["number"] = "-".join(g for g in match.groups() if g).upper()
    fields.update(_dates(body))
    if re.search(r"\b(?:usd|u\$s|us\$|dolares)\b", body):
        fields["currency"] = "USD"
    elif re.search(r"\b(?:uyu|\$u|pesos)\b", body) or "$" in body:
        fields["currency"] = "UYU"
    for key, labels in (
        ("subtotal", r"subtotal|sub-total|neto"),
        ("iva", r"iva(?: \d{1,2}(?:[.,]\d+)? ?%| \(\d{1,2} ?%\))?"),
        ("total", r"total a pagar|importe total|total|importe transferido|monto transferido|importe|monto"),
    ):
        value = _labelled_amount(body, labels)
        if value is not None:
            fields[key] = str(value)
    lines = []
    for match in LINE_RE.finditer(text):
        if re.match(r"(?i)\s*(sub-?total|iva|total|importe)", match.group("description")):
            continue
        quantity, unit_price, amount = (money(match.group(k)) for k in ("quantity", "unit_price", "amount"))
        if None not in (quantity, unit_price, amount):
            lines.append(
                {
                    "description": match.group("description").strip()[:120],
                    "quantity": str(quantity),
                    "unit_price": str(unit_price),
                    "amount": str(amount),
                }
            )
    if lines:
        fields["lines"] = lines
    references = sorted(set(re.findall(r"\bcot-\d{6}\b", body)))
    if references:
        fields["quote_refs"] = [r.upper() for r in references]
    invoice_refs = [
        "-".join(g for g in m.groups() if g).upper()
        for m in re.finditer(r"factura\s*(?:serie\s*)?([a-z]{1,2})?\s*(?:n[°ºo.]*|nro\.?)?\s*[-: ]?\s*(\d{3,9})", body)
    ]
    if invoice_refs and kind != Kind.INVOICE:
        fields["invoice_refs"] = sorted(set(invoice_refs))
    return fields


def document_extract_fields(*, document_id: int) -> None:
    document = _load(document_id, text=True)
    if document is None:
        return
    _save(document, Stage.FIELDS, fields=extract_fields(document.text, document.kind))


REQUIRED = {
    Kind.INVOICE: ("number", "rut", "issue_date", "total"),
    Kind.PURCHASE_ORDER: ("number", "total"),
    Kind.PAYMENT_RECEIPT: ("issue_date", "total"),
    Kind.DELIVERY_NOTE: ("number",),
    Kind.QUOTE_REQUEST: (),
    Kind.OTHER: (),
}


def validate_fields(fields: dict[str, Any], kind: str, *, today: date) -> list[dict[str, Any]]:
    checks: list[dict[str, Any]] = []

    def check(name: str, ok: bool, detail: str) -> None:
        checks.append({"check": name, "ok": ok, "detail": detail})

    missing = [f for f in REQUIRED.get(kind, ()) if f not in fields]
    if REQUIRED.get(kind):
        check("required_fields", not missing, f"missing: {', '.join(missing)}" if missing else "all present")
    if "rut" in fields:
        check(
            "rut",
            bool(fields.get("rut_valid")),
            f"RUT {uy_rut.format(fields['rut']) if fields.get('rut_valid') else fields['rut']}"
            + ("" if fields.get("rut_valid") else ": the check digit does not match"),
        )
    subtotal, iva, total = (Decimal(fields[k]) if k in fields else None for k in ("subtotal", "iva", "total"))
    lines = fields.get("lines") or []
    for line in lines:
        expected = (Decimal(line["quantity"]) * Decimal(line["unit_price"])).quantize(CENT)
        if abs(expected - Decimal(line["amount"])) > Decimal("0.02"):
            check(
                "line_math",
                False,
                f"{line['description']}: {line['quantity']} x {line['unit_price']} is {expected}, not {line['amount']}",
            )
    if lines and subtotal is not None:
        added = sum(Decimal(line["amount"]) for line in lines)
        check("lines_add_up", abs(added - subtotal) <= CENT, f"lines add up to {added}; subtotal {subtotal}")
    if subtotal is not None and iva is not None and total is not None:
        check(
            "total_adds_up",
            abs(subtotal + iva - total) <= CENT,
            f"{subtotal} + IVA {iva} = {subtotal + iva}; total {total}",
        )
        rate = next((r for r in IVA_RATES if abs((subtotal * r).quantize(CENT) - iva) <= Decimal("0.02")), None)
        check(
            "iva_rate",
            rate is not None,
            f"IVA {iva} on {subtotal} is {int(rate * 100)} %"
            if rate
            else f"IVA {iva} on {subtotal}: neither 22 % nor 10 %",
        )
    for key in ("issue_date", "due_date"):
        if key in fields:
            value = date.fromisoformat(fields[key])
            plausible = date(2000, 1, 1) <= value <= today + timedelta(days=400 if key == "due_date" else 1)
            check(f"{key}_plausible", plausible, f"{key.replace('_', ' ')} {value:%d/%m/%Y}")
    if "issue_date" in fields and "due_date" in fields and fields["due_date"] < fields["issue_date"]:
        check("due_after_issue", False, f"due {fields['due_date']} before issue {fields['issue_date']}")
    return checks


def quality_score(*, kind_confidence: float, kind: str, fields: dict[str, Any], checks: list[dict[str, Any]]) -> float:
    required = REQUIRED.get(kind, ())
    present = sum(1 for f in required if f in fields) / len(required) if required else 0.5
    passed = sum(1 for c in checks if c["ok"]) / len(checks) if checks else 0.5
    return round(0.4 * kind_confidence + 0.3 * present + 0.3 * passed, 3)


def document_validate(*, document_id: int) -> None:
    document = _load(document_id)
    if document is None:
        return
    checks = validate_fields(document.fields, document.kind, today=timezone.localdate())
    quality = quality_score(
        kind_confidence=document.kind_confidence or 0.0, kind=document.kind, fields=document.fields, checks=checks
    )
    _save(document, Stage.VALIDATE, status=Status.DONE, checks=checks, quality=quality)


# --- the batch ------------------------------------------------------------------------------------


def batch_crosscheck(*, batch_id: int) -> dict[str, Any]:
    """Every document of the batch is done: check them against each other and the database, score
    the batch, and send failed or doubtful documents to review. Idempotent."""
    batch = DocumentBatch.objects.get(pk=batch_id)
    if batch.status == DocumentBatch.Status.DONE:
        return batch.summary  # the chord's callback and the watchdog may both get here
    Document.objects.filter(batch=batch).exclude(status__in=Document.FINAL).update(
        status=Status.FAILED, error="its processing never finished (a worker was lost); read it again or review it"
    )
    documents = list(Document.objects.filter(batch=batch).select_related("duplicate_of"))
    findings: list[str] = []
    read = [d for d in documents if d.status == Status.DONE]
    context = CrossContext.build(batch, read)
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
    for document in documents:
        reason = _review_reason(document)
        if reason and document.review == Document.Review.NOT_NEEDED:
            document.review, document.review_reason = Document.Review.PENDING, reason[:300]
        document.stage = Stage.CROSSCHECK if document.status == Status.DONE else document.stage
    Document.objects.bulk_update(documents, ["checks", "quality", "review", "review_reason", "stage"])
    qualities = [d.quality for d in read if d.quality is not None]
    summary = {
        "documents": len(documents),
        "by_status": dict(Counter(d.status for d in documents)),
        "by_kind": dict(Counter(d.kind or "unread" for d in read)),
        "to_review": sum(1 for d in documents if d.review == Document.Review.PENDING),
        "quality": round(sum(qualities) / len(qualities), 3) if qualities else None,
        "findings": findings,
    }
    DocumentBatch.objects.filter(pk=batch.pk, status=DocumentBatch.Status.RUNNING).update(
        status=DocumentBatch.Status.DONE, summary=summary, finished_at=timezone.now()
    )
    return summary


def _review_reason(document: Document) -> str:
    if document.status == Status.FAILED:
        return f"could not be read: {document.error}"
    if document.status == Status.DUPLICATE:
        original = document.duplicate_of
        if original is not None and original.status == Status.FAILED:
            return f"a copy of '{original.filename}', which could not be read: {original.error}"[:300]
        return ""
    failed = [c["detail"] for c in document.checks if not c["ok"]]
    if failed:
        return "; ".join(failed)
    if document.quality is not None and document.quality < REVIEW_BELOW:
        return f"low confidence ({document.quality:.2f}): read as {document.get_kind_display().lower()}"
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
        number = fields["number"]
        twins = [
            d.filename
            for d in context.invoices_by_number.get(number, [])
            if d.pk != document.pk and d.fields.get("rut") == fields.get("rut")
        ]
        if twins:
            where = f"also in this batch ({', '.join(twins)})"
        elif number in context.earlier_numbers:
            where = "already received"
        elif number.upper() in context.loaded_numbers:
            where = "already loaded as an invoice"
        else:
            where = ""
        checks.append(
            {
                "check": "cross_duplicate_invoice",
                "ok": not where,
                "detail": f"invoice {number} {where}" if where else f"invoice {number} seen once",
            }
        )
    if document.kind == Kind.PAYMENT_RECEIPT and total is not None:
        checks.append(_receipt_match(document, total, context))
    if document.kind == Kind.PURCHASE_ORDER and fields.get("quote_refs"):
        checks.append(_order_match(document, total))
    return checks


def _receipt_match(document: Document, total: Decimal, context: CrossContext) -> dict[str, Any]:
    """A receipt should pay something we know: an invoice or a quote, by reference and amount."""
    fields = document.fields
    refs = set(fields.get("invoice_refs", [])) | set(fields.get("quote_refs", []))
    for other in context.invoices_by_total.get(total, []):
        if not refs or other.fields.get("number") in refs:
            return {
                "check": "cross_receipt_match",
                "ok": True,
                "detail": f"pays invoice {other.fields.get('number')} in this batch ({total})",
            }
    open_invoices = Invoice.objects.filter(tenant_id=document.tenant_id, status__in=["open", "payment_claimed"])
    for invoice in open_invoices.filter(Q(number__in=refs) | Q(amount=total)):
        if total in (invoice.balance, invoice.amount):
            return {
                "check": "cross_receipt_match",
                "ok": True,
                "detail": f"pays invoice {invoice.number} ({total} {invoice.currency})",
            }
    quotes = Quote.objects.filter(tenant_id=document.tenant_id, total=total)
    for quote in quotes:
        if not refs or quote.number in refs:
            return {"check": "cross_receipt_match", "ok": True, "detail": f"pays quote {quote.number} ({total})"}
    mentioned = f" (mentions {', '.join(sorted(refs))})" if refs else ""
    return {
        "check": "cross_receipt_match",
        "ok": False,
        "detail": f"a payment of {total} matches no invoice or quote{mentioned}",
    }


def _order_match(document: Document, total: Decimal | None) -> dict[str, Any]:
    number = document.fields["quote_refs"][0]
    try:
        quote = Quote.objects.get(tenant_id=document.tenant_id, pk=int(number.split("-")[1]))
    except (Quote.DoesNotExist, ValueError, IndexError):
        return {
            "check": "cross_order_quote",
            "ok": False,
            "detail": f"the order names quote {number}, which does not exist",
        }
    if total is not None and total != quote.total:
        return {
            "check": "cross_order_quote",
            "ok": False,
            "detail": f"the order's total {total} differs from quote {number} ({quote.total})",
        }
    return {"check": "cross_order_quote", "ok": True, "detail": f"matches quote {number} ({quote.total})"}


def progress_percent(done: int, total: int) -> int:
    """How far a batch is, as the API and the admin show it (an empty batch is complete)."""
    return round(100 * done / total) if total else 100


def batch_progress(batch: DocumentBatch) -> dict[str, Any]:
    """Done of total, per stage and per document: what `GET /api/v1/documents/batches/{id}` answers."""
    documents = list(
        Document.objects.filter(batch=batch).values(
            "id",
            "filename",
            "file_type",
            "stage",
            "status",
            "kind",
            "kind_confidence",
            "quality",
            "review",
            "review_reason",
            "error",
            "fields",
            "checks",
        )
    )
    done = sum(1 for d in documents if d["status"] in Document.FINAL)
    stages = {stage.value: 0 for stage in Stage}
    for d in documents:
        if d["status"] in Document.FINAL:
            continue
        stages[d["stage"]] += 1
    return {
        "id": batch.pk,
        "name": batch.name,
        "status": batch.status,
        "total": batch.total,
        "done": done,
        "failed": sum(1 for d in documents if d["status"] == Status.FAILED),
        "percent": progress_percent(done, batch.total),
        "in_stage": stages,
        "summary": batch.summary,
        "documents": documents,
    }


# --- review -----------------------------------------------------------------------------------------

REVIEWABLE_FIELDS = ("kind", "number", "rut", "issue_date", "due_date", "currency", "subtotal", "iva", "total")


def document_review(
    *, document: Document, action: str, corrections: dict[str, Any], user, via: str, note: str = ""
) -> list[dict[str, Any]]:
    """approve: the reading stands. correct: the given fields are replaced and each change kept
    as a DocumentCorrection, then the document's checks run again on them: while one fails, the
    document keeps waiting for review (the corrections stay). reject: the document is not what it
    claims, or unusable. `user` and `via` (the admin, or which API key) say who decided.
    Returns the checks that still fail after a correction (empty otherwise)."""
    unknown = set(corrections) - set(REVIEWABLE_FIELDS)
    if unknown:
        raise DocumentError(f"cannot correct {', '.join(sorted(unknown))}; fields are {', '.join(REVIEWABLE_FIELDS)}.")
    if action not in ("approve", "correct", "reject"):
        raise DocumentError(f"'{action}' is not a review action: approve, correct or reject.")
    corrections = {field: _correction_clean(field, value) for field, value in corrections.items()}
    with transaction.atomic():
        document = Document.objects.select_for_update().get(pk=document.pk)
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
        DocumentCorrection.objects.bulk_create(changed)
        if "rut" in corrections:
            fields["rut_valid"] = uy_rut.is_valid(str(corrections["rut"]))
        document.fields = fields
        failing: list[dict[str, Any]] = []
        if changed:
            document.checks = validate_fields(fields, document.kind, today=timezone.localdate()) + [
                c for c in document.checks if c["check"].startswith("cross_")
            ]
            failing = [c for c in document.checks if not c["ok"] and not c["check"].startswith("cross_")]
        document.review = {
            "approve": Document.Review.APPROVED,
            "reject": Document.Review.REJECTED,
            "correct": Document.Review.CORRECTED if changed else Document.Review.APPROVED,
        }[action]
        if action == "correct" and failing:  # the corrected reading does not add up yet
            document.review = Document.Review.PENDING
            note = "after correction: " + "; ".join(c["detail"] for c in failing)
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
    return failing


def _correction_clean(field: str, value: Any) -> Any:
    """A person's value, checked and written the way the reader writes it."""
    text = str(value if value is not None else "").strip()
    if field == "kind":
        if text not in Kind.values:
            raise DocumentError(f"kind '{text}' is not one of {', '.join(Kind.values)}.")
        return text
    if not text:
        return None
    if field in ("subtotal", "iva", "total"):
        amount = money(text)
        if amount is None:
            raise DocumentError(f"{field} '{text}' is not an amount, e.g. 1816.95 or 1.816,95.")
        return str(amount)
    if field in ("issue_date", "due_date"):
        day = _date(text)
        if day is None:
            raise DocumentError(f"{field} '{text}' is not a date, e.g. 2026-11-12 or 12/11/2026.")
        return day.isoformat()
    if field == "rut":
        return re.sub(r"\D", "", text)
    if field == "currency" and text.upper() not in ("USD", "UYU"):
        raise DocumentError(f"currency '{text}' is USD or UYU.")
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


# --- WhatsApp media -----------------------------------------------------------------------------


def whatsapp_media_fetch(*, media_id: str) -> bytes:
    """A document a customer sent on WhatsApp, through the Cloud API's media endpoint: the media id
    gives a short-lived URL, fetched with the same token. Timeouts and 5xx raise ConnectionError
    (worth a retry); anything else is a DocumentError."""
    import requests
    from django.conf import settings

    if not settings.WHATSAPP_TOKEN:
        raise DocumentError("not downloaded: WHATSAPP_TOKEN is not set, so the file cannot be fetched from WhatsApp.")
    headers = {"Authorization": f"Bearer {settings.WHATSAPP_TOKEN}"}

    def get(url: str, *, stream: bool = False) -> requests.Response:
        try:
            response = requests.get(url, headers=headers, timeout=settings.OUTBOUND_TIMEOUT, stream=stream)
        except (requests.ConnectionError, requests.Timeout) as error:
            raise ConnectionError(f"WhatsApp media: {error}") from error
        if response.status_code == 429 or response.status_code >= 500:
            raise ConnectionError(f"WhatsApp media answered {response.status_code}")
        if not response.ok:
            raise DocumentError(f"WhatsApp refused the media {media_id}: {response.status_code} {response.text[:200]}")
        return response

    meta = get(f"{settings.WHATSAPP_API_BASE.rstrip('/')}/{media_id}").json()
    if int(meta.get("file_size") or 0) > MAX_BYTES:
        raise DocumentError(
            f"{int(meta['file_size']) / 1024 / 1024:.1f} MB: at most {MAX_BYTES // 1024 // 1024} MB per file."
        )
    content = bytearray()
    with get(meta["url"], stream=True) as response:  # never more than the limit in memory
        for chunk in response.iter_content(chunk_size=256 * 1024):
            content += chunk
            if len(content) > MAX_BYTES:
                raise DocumentError(f"over {MAX_BYTES // 1024 // 1024} MB: at most that per file.")
    return bytes(content)
