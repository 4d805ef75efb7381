"""Document batches: upload, progress, the files themselves, and the review of doubtful ones."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import api_view, parser_classes
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from agents.documents.flow import batch_submit
from agents.documents.intake import DocumentError, Upload
from agents.documents.progress import batch_progress
from agents.documents.review import document_review
from bmc.api.limits import quota_check
from bmc.api.parsers import text_problem
from bmc.api.responses import BatchCreated, BatchProgress, ReviewOut
from bmc.documents.files import document_file_response
from bmc.documents.models import Document, DocumentBatch

BatchIn = inline_serializer(
    "DocumentBatchIn",
    {
        "files": serializers.ListField(child=serializers.FileField(), help_text="One or many files."),
        "name": serializers.CharField(required=False),
    },
)


@extend_schema(
    tags=["documents"],
    request={"multipart/form-data": BatchIn},
    responses={
        201: OpenApiResponse(BatchCreated, description="The batch and its documents, each judged by its content.")
    },
)
@api_view(["POST"])
@parser_classes([MultiPartParser])
def batches_view(request: Request) -> Response:
    """Upload many files at once (field `files`, repeated). Each is judged by its content: PDF,
    PNG, JPEG, TXT, CSV, XLSX or EML, at most 20 MB and 50 pages; the same file twice is read once."""
    files = request.FILES.getlist("files")
    if not files:
        raise serializers.ValidationError({"files": ["Send one or more files in the multipart field 'files'."]})
    not_text = {
        field: [problem]
        for field, value in [("name", request.data.get("name", ""))]
        + [(f"files[{i}].filename", f.name or "") for i, f in enumerate(files)]
        if (problem := text_problem(value))
    }
    if not_text:
        raise serializers.ValidationError(not_text)
    quota_check(tenant=request.tenant, kind="documents", adding=len(files))
    uploads = [Upload.from_file(f) for f in files]
    batch = batch_submit(
        tenant=request.tenant, uploads=uploads, source=DocumentBatch.Source.API, name=request.data.get("name", "")
    )
    documents = Document.objects.filter(batch=batch).values("id", "filename", "status", "error")
    return Response(
        {"id": batch.pk, "total": batch.total, "documents": list(documents)}, status=status.HTTP_201_CREATED
    )


@extend_schema(
    tags=["documents"],
    responses={200: OpenApiResponse(BatchProgress, description="Progress: done of total, per stage and per document.")},
)
@api_view(["GET"])
def batch_detail_view(request: Request, batch_id: int) -> Response:
    batch = get_object_or_404(DocumentBatch, pk=batch_id, tenant=request.tenant)
    return Response(batch_progress(batch))


@extend_schema(
    tags=["documents"],
    responses={
        (200, "application/octet-stream"): OpenApiResponse(
            description="The file as uploaded, typed as its content was found to be (application/pdf, image/png...)."
        )
    },
)
@api_view(["GET"])
def document_file_view(request: Request, document_id: int) -> HttpResponse:
    document = get_object_or_404(Document.objects.select_related("blob"), pk=document_id, tenant=request.tenant)
    return document_file_response(document)


class ReviewSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=["approve", "correct", "reject"])
    fields = serializers.DictField(required=False, default=dict, help_text="For 'correct': field -> right value.")
    note = serializers.CharField(required=False, allow_blank=True, default="")


@extend_schema(tags=["documents"], request=ReviewSerializer, responses={200: ReviewOut})
@api_view(["POST"])
def document_review_view(request: Request, document_id: int) -> Response:
    """A person's verdict on a document: approve it as read, correct some fields (each correction
    is kept, so the reading's accuracy can be measured), or reject it."""
    document = get_object_or_404(Document, pk=document_id, tenant=request.tenant)
    serializer = ReviewSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    data = serializer.validated_data
    if data["action"] == "correct" and not data["fields"]:
        raise serializers.ValidationError({"fields": ['Give the corrected fields, e.g. {"total": "1816.95"}.']})
    key = request.auth
    try:
        failing = document_review(
            document=document,
            action=data["action"],
            corrections=data["fields"],
            user=None,
            via=f"API key {key.name} ({key.prefix})",
            note=data["note"],
        )
    except DocumentError as error:
        raise serializers.ValidationError({"fields": [str(error)]}) from None
    document.refresh_from_db()
    body = {
        "id": document.pk,
        "review": document.review,
        "fields": document.fields,
        "reviewed_via": document.reviewed_via,
    }
    if failing:
        body["failing_checks"] = failing
        body["detail"] = "The corrections are kept, but the document's checks still fail: it keeps waiting for review."
    return Response(body)
