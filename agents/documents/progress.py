"""How far a batch is: done of total, per stage and per document, as the API and the admin show it."""

from __future__ import annotations

from typing import Any

from bmc.documents.models import Document, DocumentBatch

Stage = Document.Stage
Status = Document.Status


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
