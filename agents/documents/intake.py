"""Files received: what this agent accepts (type by content, size), an e-mail's attachments
unpacked, and a batch stored with each file's bytes once per content."""

from __future__ import annotations

import csv
import email
import email.policy
import hashlib
import re
from dataclasses import dataclass

import filetype
from django.db import IntegrityError, transaction
from django.utils.formats import number_format
from django.utils.translation import gettext

from agents.staff import staff_language
from bmc.core.limits import usage_count_on_commit
from bmc.documents.models import Document, DocumentBatch, DocumentBlob

MAX_BYTES = 20 * 1024 * 1024
MAX_ATTACHMENTS = 20
ALLOWED_TYPES = ("pdf", "png", "jpeg", "txt", "csv", "xlsx", "eml")


class DocumentError(ValueError):
    """This file cannot be read: the reason, for a person (in staff's language when a stage stores
    it; in the request's when a request is refused: the admin's Spanish, the API's English)."""


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
        raise DocumentError(
            gettext("the content is %(type)s, not one of the accepted types (%(types)s).")
            % {"type": kind.mime, "types": ", ".join(ALLOWED_TYPES)}
        )
    text = text_decode(content)
    if text is None:
        raise DocumentError(
            gettext("the content is not a document this agent reads (%(types)s).") % {"types": ", ".join(ALLOWED_TYPES)}
        )
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


def text_decode(content: bytes) -> str | None:
    """The bytes as text, when they are text (UTF-8 or Latin-1, nearly all printable)."""
    for encoding in ("utf-8", "latin-1"):
        try:
            text = content.decode(encoding)
        except UnicodeDecodeError:
            continue
        printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text[:5000])
        if text and printable / min(len(text), 5000) > 0.97:
            return text
    return None


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
                document.status, document.error = Document.Status.FAILED, too_large(upload.full_size)
            elif not upload.content:
                with staff_language():
                    document.status, document.error = Document.Status.FAILED, gettext("the file is empty.")
            else:
                document.blob = _blob_store(digest, upload.content)
            documents.append(document)
        Document.objects.bulk_create(documents)
        usage_count_on_commit(tenant_id=tenant.pk, kind="documents", amount=len(documents))
    return batch


def too_large(size: int) -> str:
    """A file over the limit, for staff (stored as the document's error)."""
    with staff_language():  # the API's request speaks English
        return gettext("%(size)s MB: at most %(limit)s MB per file.") % {
            "size": number_format(size / 1024 / 1024, decimal_pos=1),
            "limit": MAX_BYTES // 1024 // 1024,
        }


def _blob_store(digest: str, content: bytes) -> DocumentBlob:
    blob = DocumentBlob.objects.filter(pk=digest).only("sha256").first()
    if blob:
        return blob
    try:
        with transaction.atomic():
            return DocumentBlob.objects.create(sha256=digest, content=content, size=len(content))
    except IntegrityError:  # the same file uploaded at the same moment elsewhere
        return DocumentBlob.objects.only("sha256").get(pk=digest)
