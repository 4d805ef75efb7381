"""A document's file, served to the API and to the review page in the admin alike."""

from __future__ import annotations

from django.http import HttpResponse
from django.utils.http import content_disposition_header

from bmc.documents.models import Document

CONTENT_TYPES = {
    "pdf": "application/pdf",
    "png": "image/png",
    "jpeg": "image/jpeg",
    "txt": "text/plain; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "eml": "message/rfc822",
}


def document_file_response(document: Document) -> HttpResponse:
    if document.blob is None:
        return HttpResponse(status=404)
    response = HttpResponse(
        bytes(document.blob.content), content_type=CONTENT_TYPES.get(document.file_type, "application/octet-stream")
    )
    response["Content-Disposition"] = content_disposition_header(False, document.filename)
    response["X-Content-Type-Options"] = "nosniff"  # only ever the type its content was found to be
    if document.file_type != "pdf":  # the browser's PDF viewer does not run in a sandbox
        response["Content-Security-Policy"] = "sandbox"
    response["X-Frame-Options"] = "SAMEORIGIN"  # the review page shows it beside its fields
    return response
