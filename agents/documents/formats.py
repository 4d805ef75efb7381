"""The file formats this agent reads: a PDF (its pages, or OCR when scanned), an image (OCR with
Tesseract where installed), a spreadsheet, an e-mail, plain text; their limits (pages, a
compression bomb), and text tidied the way the field patterns read it."""

from __future__ import annotations

import email
import email.policy
import io
import re
import shutil
import subprocess
import zipfile

from django.utils.translation import gettext

from agents.documents.intake import MAX_BYTES, DocumentError, text_decode

MAX_PAGES = 50
MAX_UNZIPPED_BYTES = 100 * 1024 * 1024  # an XLSX is a zip: more than this unpacked is a bomb
MAX_ZIP_RATIO = 100


def pdf_open(content: bytes):
    """The PDF's reader; a protected or damaged PDF is a DocumentError."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(content), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise DocumentError(gettext("the PDF is protected with a password."))
        reader.pages[0]  # noqa: B018 - a PDF whose page tree cannot be read is damaged
        return reader
    except DocumentError:
        raise
    except (PdfReadError, ValueError, KeyError, IndexError, TypeError, AttributeError) as error:
        raise DocumentError(
            gettext("the PDF is damaged and cannot be read (%(error)s).")
            % {"error": f"{type(error).__name__}: {error}"}
        ) from None


def zip_check(content: bytes) -> None:
    """A spreadsheet (a zip) that is damaged or unpacks to far more than its size is refused."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile as error:
        raise DocumentError(gettext("the spreadsheet is damaged (%(error)s).") % {"error": error}) from None
    if unpacked > MAX_UNZIPPED_BYTES or unpacked > MAX_ZIP_RATIO * max(len(content), 1):
        raise DocumentError(
            gettext("the spreadsheet unpacks to %(unpacked)s MB from %(size)s KB: refused as a compression bomb.")
            % {"unpacked": f"{unpacked / 1024 / 1024:.0f}", "size": f"{len(content) / 1024:.0f}"}
        )


def text_extract(content: bytes, *, file_type: str) -> tuple[str, str]:
    """(text, OCR status) of a file of this type; the status is empty when no OCR was tried."""
    ocr = ""
    if file_type == "pdf":
        reader = pdf_open(content)
        text = "\n".join((page.extract_text() or "") for page in reader.pages)
        if not text.strip():
            text, ocr = _ocr_pdf(reader)
    elif file_type in ("png", "jpeg"):
        text, ocr = _ocr(content)
    elif file_type == "xlsx":
        text = _xlsx_text(content)
    elif file_type == "eml":
        text = _eml_text(content)
    else:
        text = text_decode(content) or ""
    return text, ocr


def _ocr(image: bytes) -> tuple[str, str]:
    """Tesseract where installed; without it the text is empty and the reason is recorded (for
    staff; "done" is a code)."""
    binary = shutil.which("tesseract")
    if binary is None:
        return "", gettext("unavailable: tesseract is not installed")
    result = subprocess.run(
        [binary, "stdin", "stdout", "-l", "spa+eng"], input=image, capture_output=True, timeout=60, check=False
    )
    if result.returncode != 0:
        return "", gettext("failed: %(error)s") % {"error": result.stderr.decode(errors="replace")[:80]}
    return result.stdout.decode(errors="replace"), "done"


def _ocr_pdf(reader) -> tuple[str, str]:
    """A scanned PDF: its page images read one at a time (never all in memory at once)."""
    if shutil.which("tesseract") is None:
        return "", gettext("unavailable: tesseract is not installed")
    texts, status = [], gettext("no text and no images in the PDF")
    for page in reader.pages:
        for image in page.images:
            data = image.data
            if len(data) > MAX_BYTES:
                return "", gettext("an image in the PDF is over %(limit)s MB") % {"limit": MAX_BYTES // 1024 // 1024}
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
