"""Sync runs over the API: started on demand, read with their counts and refusals."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from agents.datasync.runs import COUNTS, SyncBusy, SyncNotConfigured, sync_run_start
from bmc.datasync.models import Source, SyncRun


class SyncRunOut(serializers.ModelSerializer):
    class Meta:
        model = SyncRun
        fields = (
            "id",
            "source",
            "status",
            "trigger",
            *COUNTS,
            "refusals",
            "api_calls",
            "detail",
            "held",
            "error",
            "created_at",
            "started_at",
            "finished_at",
        )


@extend_schema(
    tags=["sync"],
    request=None,
    parameters=[OpenApiParameter("source", str, OpenApiParameter.PATH, enum=Source.values)],
    responses={
        202: SyncRunOut,
        400: OpenApiResponse(description="Not a source, or the source is not configured: the message names what."),
        409: OpenApiResponse(description="A run of the source is under way: `run_id` is that run."),
    },
)
@api_view(["POST"])
def sync_run_view(request: Request, source: str) -> Response:
    """Run a source now (`sheets`, `mercadolibre`, `shopify`): 202 with the queued run; read it at
    /api/v1/sync/runs/{id}."""
    try:
        run = sync_run_start(tenant=request.tenant, source=source, trigger="api")
    except SyncNotConfigured as error:
        raise serializers.ValidationError({"source": [str(error)]}) from None
    except SyncBusy as busy:
        return Response(
            {"error": {"code": "conflict", "message": str(busy), "run_id": busy.run.pk}},
            status=status.HTTP_409_CONFLICT,
        )
    return Response(SyncRunOut(run).data, status=status.HTTP_202_ACCEPTED)


@extend_schema(tags=["sync"], responses={200: SyncRunOut, 404: OpenApiResponse(description="No such run here.")})
@api_view(["GET"])
def sync_run_detail_view(request: Request, run_id: int) -> Response:
    """A run: its status; records read, created, updated, unchanged and refused; each refusal with
    where it is and why; what it holds for approval; its error."""
    run = get_object_or_404(SyncRun, pk=run_id, tenant=request.tenant)
    return Response(SyncRunOut(run).data)
