"""Document batches over the API and in the admin: upload, progress, the file, the review."""

from __future__ import annotations

import random
from datetime import date
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from bmc.documents.models import Document, DocumentBatch, DocumentCorrection
from tests import documents_corpus as corpus
from tests.agents.documents.test_documents import run

pytestmark = pytest.mark.django_db


def files(*samples):
    return [SimpleUploadedFile(s.filename, s.content) for s in samples]


def right_total(sample) -> str:
    """What a person reading the invoice writes: its subtotal plus IVA, not the printed total."""
    return str(Decimal(sample.expected["subtotal"]) + Decimal(sample.expected["iva"]))


def test_a_batch_is_uploaded_and_dispatched_once_committed(api, django_capture_on_commit_callbacks, monkeypatch):
    dispatched = []
    monkeypatch.setattr("agents.documents.flow.batch_dispatch", dispatched.append)
    invoice = corpus.invoice(random.Random(1), 10, issued=date(2026, 11, 10))
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "/api/v1/documents/batches",
            {"files": files(invoice, corpus.Sample("vacio.txt", b"", "broken")), "name": "semana 47"},
            format="multipart",
        )
    assert response.status_code == 201
    body = response.json()
    assert body["total"] == 2 and [d["status"] for d in body["documents"]] == ["pending", "failed"]
    assert body["documents"][1]["error"] == "el archivo está vacío."  # stored for staff: their Spanish
    assert dispatched == [body["id"]]
    assert DocumentBatch.objects.get(pk=body["id"]).name == "semana 47"


def test_a_file_over_the_limit_is_refused_with_its_real_size(api, django_capture_on_commit_callbacks):
    huge = corpus.Sample("escaneo.pdf", b"%PDF-1.4\n" + bytes(30 * 1024 * 1024), "broken")
    with django_capture_on_commit_callbacks(execute=False):
        response = api.post("/api/v1/documents/batches", {"files": files(huge)}, format="multipart")
    (document,) = response.json()["documents"]
    assert document["status"] == "failed" and document["error"] == "30,0 MB: como máximo 20 MB por archivo."


def test_no_files_is_a_clear_400(api):
    response = api.post("/api/v1/documents/batches", {"name": "x"}, format="multipart")
    assert response.status_code == 400 and "multipart field 'files'" in response.json()["error"]["message"]


def test_progress_file_and_review_over_the_api(api, tenant, other_tenant):
    invoice = corpus.invoice(random.Random(1), 11, issued=date(2026, 11, 10), broken_total=True)
    batch, _, read = run(tenant, [invoice])
    progress = api.get(f"/api/v1/documents/batches/{batch.pk}").json()
    assert (progress["status"], progress["done"], progress["total"], progress["percent"]) == ("done", 1, 1, 100)
    (document,) = progress["documents"]
    assert document["kind"] == "invoice" and document["review"] == "pending"
    served = api.get(f"/api/v1/documents/{document['id']}/file")
    assert served.status_code == 200 and served["Content-Type"] == "application/pdf"
    assert served.content == invoice.content and served["X-Frame-Options"] == "SAMEORIGIN"
    reviewed = api.post(
        f"/api/v1/documents/{document['id']}/review",
        {"action": "correct", "fields": {"total": right_total(invoice)}},
        format="json",
    )
    assert reviewed.status_code == 200 and reviewed.json()["review"] == "corrected"
    assert reviewed.json()["reviewed_via"].startswith("API key tests (")
    correction = DocumentCorrection.objects.get()
    assert correction.corrected == right_total(invoice) and correction.via.startswith("API key tests (")
    bad = api.post(f"/api/v1/documents/{document['id']}/review", {"action": "correct"}, format="json")
    assert bad.status_code == 400 and "corrected fields" in bad.json()["error"]["message"]
    other = DocumentBatch.objects.create(tenant=other_tenant, total=0)
    assert api.get(f"/api/v1/documents/batches/{other.pk}").status_code == 404


def test_a_correction_whose_checks_still_fail_keeps_the_document_waiting(api, tenant):
    invoice = corpus.invoice(random.Random(1), 12, issued=date(2026, 11, 10), broken_total=True)
    _, _, read = run(tenant, [invoice])
    document = read[invoice.filename]
    reviewed = api.post(
        f"/api/v1/documents/{document.pk}/review", {"action": "correct", "fields": {"total": "1816.95"}}, format="json"
    )
    body = reviewed.json()
    assert reviewed.status_code == 200 and body["review"] == "pending"
    assert [c["check"] for c in body["failing_checks"]] == ["total_adds_up"]
    assert "still fail" in body["detail"] and body["fields"]["total"] == "1816.95"  # the correction is kept
    document.refresh_from_db()
    assert document.review == "pending" and document.reviewed_via.startswith("API key tests (")


def test_the_admin_uploads_a_batch_and_shows_its_progress(admin_client, tenant, monkeypatch):
    monkeypatch.setattr("agents.documents.flow.batch_dispatch", lambda batch_id: None)
    samples = [corpus.invoice(random.Random(i), 20 + i, issued=date(2026, 11, 10)) for i in range(3)]
    page = admin_client.get(reverse("admin:documents_documentbatch_add"))
    assert page.status_code == 200 and b'type="file"' in page.content and b"multiple" in page.content
    response = admin_client.post(
        reverse("admin:documents_documentbatch_add"), {"name": "mail del lunes", "files": files(*samples)}
    )
    batch = DocumentBatch.objects.get()
    assert response.status_code == 302 and batch.total == 3 and batch.source == "admin"
    detail = admin_client.get(reverse("admin:documents_documentbatch_change", args=[batch.pk])).content.decode()
    assert '<progress value="0" max="3"' in detail and 'http-equiv="refresh"' in detail  # moves while running
    listed = admin_client.get(reverse("admin:documents_documentbatch_changelist")).content.decode()
    assert '<progress value="0" max="3"' in listed and "0 de 3 (0 %)" in listed
    first, second, _ = Document.objects.filter(batch=batch).order_by("pk")
    Document.objects.filter(pk=first.pk).update(status="done")
    Document.objects.filter(pk=second.pk).update(status="failed")
    listed = admin_client.get(reverse("admin:documents_documentbatch_changelist")).content.decode()
    assert '<progress value="2" max="3"' in listed and "2 de 3 (67 %) · 1 falló" in listed


def test_the_review_page_shows_the_document_beside_its_fields(admin_client, tenant, admin_user):
    invoice = corpus.invoice(random.Random(3), 30, issued=date(2026, 11, 10), broken_total=True)
    _, _, read = run(tenant, [invoice])
    document = read[invoice.filename]
    url = reverse("admin:documents_document_change", args=[document.pk])
    queue_url = reverse("admin:documents_document_changelist")
    waiting = admin_client.get(queue_url, {"review__exact": "pending"}).content.decode()
    assert url in waiting  # the doubtful invoice is in the queue
    page = admin_client.get(url).content.decode()
    assert f'<iframe src="/admin/documents/document/{document.pk}/file/"' in page
    assert 'name="total" value="' in page and "total_adds_up" in page and "Aprobar (con mis correcciones)" in page
    assert admin_client.get(f"/admin/documents/document/{document.pk}/file/").content == invoice.content
    form = {"action": "approve", "kind": "invoice", "total": right_total(invoice)}
    for name in ("number", "rut", "issue_date", "due_date", "currency", "subtotal", "iva"):
        form[name] = document.fields.get(name, "")
    assert admin_client.post(url, form).status_code == 302
    document.refresh_from_db()
    assert document.review == "corrected" and document.reviewed_by == admin_user
    assert DocumentCorrection.objects.get().field == "total"
    assert url not in admin_client.get(queue_url, {"review__exact": "pending"}).content.decode()  # and out of it


def test_staff_without_document_permissions_see_no_documents(client, tenant):
    from django.contrib.auth.models import Group, User

    from agents.tenants import system_bootstrap

    system_bootstrap()
    invoice = corpus.invoice(random.Random(4), 40, issued=date(2026, 11, 10))
    _, _, read = run(tenant, [invoice])
    document = read[invoice.filename]
    seller = User.objects.create_user("vendedor", password="x", is_staff=True)
    seller.groups.add(Group.objects.get(name="sales"))  # customers and quotes, not invoices received
    client.force_login(seller)
    assert client.get(reverse("admin:documents_document_change", args=[document.pk])).status_code == 403
    assert client.get(f"/admin/documents/document/{document.pk}/file/").status_code == 403
    assert client.get(reverse("admin:documents_documentbatch_add")).status_code == 403
    assert (
        client.post(reverse("admin:documents_document_change", args=[document.pk]), {"action": "reject"}).status_code
        == 403
    )
    document.refresh_from_db()
    assert document.review == "not_needed"


def test_operations_staff_review_documents(client, tenant):
    from django.contrib.auth.models import Group, User

    from agents.tenants import system_bootstrap

    system_bootstrap()
    invoice = corpus.invoice(random.Random(5), 41, issued=date(2026, 11, 10), broken_total=True)
    _, _, read = run(tenant, [invoice])
    document = read[invoice.filename]
    clerk = User.objects.create_user("administracion", password="x", is_staff=True)
    clerk.groups.add(Group.objects.get(name="operations"))
    client.force_login(clerk)
    assert client.get(reverse("admin:documents_document_change", args=[document.pk])).status_code == 200
    assert (
        client.post(reverse("admin:documents_document_change", args=[document.pk]), {"action": "reject"}).status_code
        == 302
    )
    document.refresh_from_db()
    assert document.review == "rejected" and document.reviewed_by == clerk
