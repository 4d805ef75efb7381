"""The documents agent's stages on generated documents with known values, run in process (the
worker flows are in tests/flows/test_documents.py)."""

from __future__ import annotations

import io
import random
from datetime import date, timedelta
from decimal import Decimal

import pytest

from agents.documents import flow as document_flow
from agents.documents.crosscheck import batch_crosscheck
from agents.documents.intake import MAX_BYTES, DocumentError, Upload, batch_create, file_type_detect
from agents.documents.review import document_review, extraction_accuracy
from bmc.documents.models import Document, DocumentCorrection
from bmc.events.models import DomainEvent
from tests import documents_corpus as corpus

pytestmark = pytest.mark.django_db
FIELDS = ("number", "rut", "issue_date", "due_date", "currency", "subtotal", "iva", "total")


def run(tenant, samples, **kwargs):
    """The batch as the worker would run it: every stage of every document, then the callback."""
    from tasks import documents as stages

    batch = batch_create(
        tenant=tenant, uploads=[Upload(s.filename, s.content) for s in samples], source="api", **kwargs
    )
    for document in Document.objects.filter(batch=batch).exclude(status="failed"):
        for stage in (stages.ingest, stages.extract_text, stages.classify, stages.extract_fields, stages.validate):
            stage(document.pk)  # the stage task's body, in process
    summary = batch_crosscheck(batch_id=batch.pk)
    return batch, summary, {d.filename: d for d in Document.objects.filter(batch=batch)}


def test_types_come_from_the_content_not_the_name():
    invoice = corpus.invoice(random.Random(1), 1, issued=date(2026, 11, 10)).content
    assert file_type_detect(invoice) == "pdf"
    from openpyxl import Workbook

    workbook, buffer = Workbook(), io.BytesIO()
    workbook.active.append(["Factura", "Total"])
    workbook.save(buffer)
    assert file_type_detect(buffer.getvalue()) == "xlsx"
    assert file_type_detect(b"\x89PNG\r\n\x1a\n" + bytes(64)) == "png"
    assert file_type_detect(b"\xff\xd8\xff\xe0" + bytes(64)) == "jpeg"
    assert file_type_detect(b"numero;fecha;total\nA-1;01/11/2026;100,00\nA-2;02/11/2026;50,00\n") == "csv"
    assert file_type_detect(b"From: ana@x.uy\nSubject: factura\n\nadjunto la factura") == "eml"
    assert file_type_detect(b"Te paso el comprobante, saludos") == "txt"
    with pytest.raises(DocumentError, match="image/gif, que no es uno de los tipos aceptados"):
        file_type_detect(b"GIF89a" + bytes(64))
    with pytest.raises(DocumentError, match="application/x-executable, que no es uno de los tipos aceptados"):
        file_type_detect(corpus.wrong_type().content)  # named factura.pdf
    with pytest.raises(DocumentError, match="no es un documento que este agente lea"):
        file_type_detect(random.Random(1).randbytes(4096))


def test_a_days_mail_is_read_field_by_field(tenant):
    samples = corpus.corpus(seed=11, invoices=6)
    samples.append(
        corpus.purchase_order(random.Random(3), number="OC-2026-0042", quote="COT-000099", issued=date(2026, 11, 14))
    )
    _, summary, read = run(tenant, samples)
    right, total = {}, {}
    for sample in samples:
        document = read[sample.filename]
        assert document.status == "done" and document.kind == sample.kind, document.filename
        for field, value in sample.expected.items():
            total[field] = total.get(field, 0) + 1
            right[field] = right.get(field, 0) + (str(document.fields.get(field)) == str(value))
    accuracy = {field: right[field] / total[field] for field in total}
    assert accuracy == {field: 1.0 for field in total}, accuracy
    # the first receipt pays the first invoice; the second pays nothing we know
    receipts = [d for d in read.values() if d.kind == "payment_receipt"]
    matched = {d.filename: next(c for c in d.checks if c["check"] == "cross_receipt_match") for d in receipts}
    assert sorted(c["ok"] for c in matched.values()) == [False, True]
    assert any("paga la factura A-0001200" in c["detail"] for c in matched.values())
    unknown = next(d for d in receipts if not matched[d.filename]["ok"])
    assert unknown.review == "pending" and "no coincide con ninguna factura ni cotización" in unknown.review_reason
    # the order names a quote that does not exist
    order = read["orden-OC-2026-0042.pdf"]
    assert order.review == "pending" and "la cotización COT-000099, que no existe" in order.review_reason
    clean = [d for d in read.values() if d.kind == "invoice"]
    assert all(d.review == "not_needed" and d.quality >= 0.9 for d in clean)
    assert summary["by_kind"] == {"invoice": 6, "payment_receipt": 2, "delivery_note": 1, "purchase_order": 1}


def test_bad_files_fail_alone_with_a_reason(tenant):
    good = corpus.invoice(random.Random(2), 77, issued=date(2026, 11, 10))
    samples = [
        good,
        corpus.Sample("copia.pdf", good.content, "invoice"),  # the same file again
        corpus.truncated_pdf(good.content),
        corpus.many_pages_pdf(),
        corpus.zip_bomb_xlsx(),
        corpus.wrong_type(),
        corpus.Sample("vacio.pdf", b"", "broken"),
        corpus.Sample("enorme.pdf", b"%PDF-1.4\n" + bytes(MAX_BYTES), "broken"),
    ]
    batch, summary, read = run(tenant, samples)
    assert read[good.filename].status == "done" and read[good.filename].fields["number"] == "A-0000077"
    assert read["copia.pdf"].status == "duplicate" and "el mismo archivo que" in read["copia.pdf"].error
    reasons = {name: read[name].error for name in read if read[name].status == "failed"}
    assert "el PDF está dañado" in reasons["cortado.pdf"]
    assert "10000 páginas: como máximo 50" in reasons["diez-mil-paginas.pdf"]
    assert "bomba de compresión" in reasons["planilla.xlsx"]
    assert "application/x-executable, que no es uno de los tipos aceptados" in reasons["factura.pdf"]
    assert reasons["vacio.pdf"] == "el archivo está vacío."
    assert reasons["enorme.pdf"] == "20,0 MB: como máximo 20 MB por archivo."
    assert summary["by_status"] == {"done": 1, "duplicate": 1, "failed": 6}
    assert {d.filename for d in read.values() if d.review == "pending"} == set(reasons)
    batch.refresh_from_db()
    assert batch.status == "done" and batch.finished_at is not None


def test_sums_that_do_not_add_up_and_bad_ruts_go_to_review(tenant):
    broken = corpus.invoice(random.Random(4), 88, issued=date(2026, 11, 10), broken_total=True)
    wrong_rut = corpus.invoice(random.Random(5), 89, issued=date(2026, 11, 10))
    wrong_rut.content = corpus.pdf(
        ["e-Factura Serie A N° 0000089", "RUT Emisor: 21-100342-001-3", "Fecha de emision: 10/11/2026", "Total: 100,00"]
    )
    future = corpus.Sample(
        "futuro.pdf",
        corpus.pdf(
            [
                "e-Factura Serie B N° 0000001",
                "RUT Emisor: 21-100342-001-7",
                "Fecha de emision: 10/11/2031",
                "Total: 50,00",
            ]
        ),
        "invoice",
    )
    _, _, read = run(tenant, [broken, wrong_rut, future])
    assert "total" in read[broken.filename].review_reason and read[broken.filename].review == "pending"
    assert "el dígito verificador no coincide" in read[wrong_rut.filename].review_reason
    assert "fecha de emisión 10/11/2031" in read["futuro.pdf"].review_reason


def test_the_same_invoice_twice_and_orders_against_their_quote(tenant):
    from agents.quotes.pricing import catalog_snapshot, quote_create, quote_price, quote_spec_parse
    from agents.tenants import system_bootstrap

    system_bootstrap()
    catalog = catalog_snapshot(tenant=tenant)
    spec = quote_spec_parse(
        data={"family": "ISODEC_EPS", "thickness_mm": 100, "length_m": 6, "width_m": 4.48}, catalog=catalog
    )
    quote = quote_create(tenant=tenant, result=quote_price(spec=spec, catalog=catalog))
    rng = random.Random(8)
    order = corpus.purchase_order(rng, number="OC-7", quote=quote.number, issued=date(2026, 11, 14))
    first = corpus.invoice(random.Random(9), 500, issued=date(2026, 11, 1))
    again = corpus.invoice(random.Random(10), 500, issued=date(2026, 11, 1))  # same number, other lines
    _, summary, read = run(tenant, [order, first, again])
    assert f"no coincide con la cotización {quote.number} ({quote.total})" in read[order.filename].review_reason
    for name in (first.filename, again.filename):
        assert read[name].review == "pending" and "también está en este lote" in read[name].review_reason
    assert any("la factura A-0000500 también está en este lote" in f for f in summary["findings"])


def test_a_receipt_for_a_loaded_invoice_is_matched(tenant):
    from bmc.conversations.models import Customer
    from bmc.sales.models import Invoice

    customer = Customer.objects.create(tenant=tenant, phone="+59899123456")
    Invoice.objects.create(
        tenant=tenant,
        customer=customer,
        number="F-1001",
        amount=Decimal("2500.00"),
        issue_date=date(2026, 10, 1),
        due_date=date(2026, 11, 1),
    )
    receipt = corpus.receipt(
        random.Random(1), amount=Decimal("2500.00"), paid=date(2026, 11, 3), reference="factura F-1001"
    )
    _, _, read = run(tenant, [receipt])
    check = next(c for c in read[receipt.filename].checks if c["check"] == "cross_receipt_match")
    assert check == {"check": "cross_receipt_match", "ok": True, "detail": "paga la factura F-1001 (2500.00 USD)"}


def test_an_invoice_already_loaded_under_collections_is_flagged_whatever_its_case(tenant):
    from bmc.conversations.models import Customer
    from bmc.sales.models import Invoice

    customer = Customer.objects.create(tenant=tenant, phone="+59899123456")
    for number in ("a-0000300", "B-1"):  # one of them is the invoice received again
        Invoice.objects.create(
            tenant=tenant,
            customer=customer,
            number=number,
            amount=Decimal("10.00"),
            issue_date=date(2026, 10, 1),
            due_date=date(2026, 11, 1),
        )
    again, new = (corpus.invoice(random.Random(n), n, issued=date(2026, 11, 10)) for n in (300, 301))
    _, _, read = run(tenant, [again, new])
    flagged = {name: next(c for c in d.checks if c["check"] == "cross_duplicate_invoice") for name, d in read.items()}
    assert not flagged[again.filename]["ok"] and "ya está cargada en las facturas" in flagged[again.filename]["detail"]
    assert flagged[new.filename]["ok"]


def test_corrections_are_kept_and_measure_accuracy(tenant, admin_user):
    samples = [
        corpus.invoice(random.Random(i), 600 + i, issued=date(2026, 11, 1) + timedelta(days=i)) for i in range(4)
    ]
    _, _, read = run(tenant, samples)
    documents = list(read.values())
    document_review(document=documents[0], action="approve", corrections={}, user=admin_user, via="admin")
    document_review(
        document=documents[1], action="correct", corrections={"number": "A-0999"}, user=admin_user, via="admin"
    )
    document_review(
        document=documents[2], action="reject", corrections={}, user=admin_user, via="admin", note="no es nuestra"
    )
    with pytest.raises(DocumentError, match="no se puede corregir lines"):
        document_review(document=documents[3], action="correct", corrections={"lines": []}, user=admin_user, via="x")
    (correction,) = DocumentCorrection.objects.all()
    assert (correction.field, correction.corrected, correction.user) == ("number", "A-0999", admin_user)
    assert correction.extracted == samples[1].expected["number"] and correction.via == "admin"
    reviews = {d.filename: Document.objects.get(pk=d.pk).review for d in documents[:3]}
    assert list(reviews.values()) == ["approved", "corrected", "rejected"]
    accuracy = extraction_accuracy(tenant_id=tenant.pk)
    assert accuracy["number"] == {"reviewed": 2, "corrected": 1, "accuracy": 0.5}
    assert accuracy["total"] == {"reviewed": 2, "corrected": 0, "accuracy": 1.0}
    # each verdict is an event for whoever follows reviews (n8n, a workflow); the refused one is not
    events = DomainEvent.objects.filter(type="document.reviewed").order_by("id")
    assert [(e.subject, e.data["review"]) for e in events] == [
        (f"document:{d.pk}", review)
        for d, review in zip(documents[:3], ["approved", "corrected", "rejected"], strict=True)
    ]
    assert events[1].data["fields"]["number"] == "A-0999" and events[1].data["via"] == "admin"


def test_a_correction_that_does_not_add_up_is_kept_and_the_document_keeps_waiting(tenant, admin_user):
    invoice = corpus.invoice(random.Random(5), 650, issued=date(2026, 11, 1))
    _, _, read = run(tenant, [invoice])
    document = read[invoice.filename]
    failing = document_review(
        document=document, action="correct", corrections={"total": "999.00"}, user=admin_user, via="admin"
    )
    assert [c["check"] for c in failing] == ["total_adds_up"]
    document.refresh_from_db()
    assert document.review == "pending" and document.fields["total"] == "999.00"
    assert document.review_reason.startswith("después de la corrección: ") and document.reviewed_by == admin_user
    assert DocumentCorrection.objects.get().corrected == "999.00"
    event = DomainEvent.objects.get(type="document.reviewed")
    assert event.data["review"] == "pending" and [c["check"] for c in event.data["failing_checks"]] == ["total_adds_up"]


VARIANTS = [
    # other issuers print the same facts their own way
    (
        "eticket.pdf",
        [
            "Ferreteria El Tornillo S.R.L.",
            "R.U.T. 211003420017",
            "e-Ticket  Serie B  Nro. 45873",
            "Fecha: 2026-11-05",
            "Moneda: U$S",
            "Subtotal 1,489.30",
            "IVA (22%) 327.65",
            "Importe total 1,816.95",
        ],
        "invoice",
        {
            "number": "B-45873",
            "rut": "211003420017",
            "issue_date": "2026-11-05",
            "currency": "USD",
            "subtotal": "1489.30",
            "iva": "327.65",
            "total": "1816.95",
        },
    ),
    (
        "santander.pdf",
        [
            "Santander - Comprobante de pago",
            "Transferencia realizada con exito",
            "Nro. de transaccion: 77889900",
            "Fecha de la operacion: 05/11/2026",
            "Cuenta de origen: 0012345678",
            "Importe debitado: $ 12.500,00",
        ],
        "payment_receipt",
        {"number": "77889900", "issue_date": "2026-11-05", "currency": "UYU", "total": "12500.00"},
    ),
    (
        "nota-entrega.pdf",
        ["NOTA DE ENTREGA N° 4567", "Fecha 06/11/2026", "Recibi conforme"],
        "delivery_note",
        {"issue_date": "2026-11-06"},
    ),
    (
        "orden-barraca.pdf",
        [
            "Barraca Oriental",
            "ORDEN DE COMPRA Nro. 2026/118",
            "Fecha de emision: 07/11/2026",
            "Solicitamos segun cotizacion COT-000045",
            "Total USD 2.000,00",
        ],
        "purchase_order",
        {"number": "2026/118", "issue_date": "2026-11-07", "currency": "USD", "total": "2000.00"},
    ),
]


@pytest.mark.parametrize("name, lines, kind, expected", VARIANTS, ids=[v[0] for v in VARIANTS])
def test_other_layouts_of_the_same_facts_are_read(tenant, name, lines, kind, expected):
    _, _, read = run(tenant, [corpus.Sample(name, corpus.pdf(lines), kind)])
    document = read[name]
    assert document.kind == kind
    assert {field: document.fields.get(field) for field in expected} == expected


def test_hostile_text_is_read_in_linear_time(tenant):
    """Long runs of spaces and endless lines once made the field patterns backtrack for minutes."""
    hostile = ("factura" + " " * 20_000 + "x\n") * 3 + "1 " * 30_000 + "\n" + "<" * 50_000
    sample = corpus.Sample("raro.txt", hostile.encode(), "other")
    _, _, read = run(tenant, [sample])
    assert read["raro.txt"].status == "done"


def test_amounts_as_uruguayan_documents_print_them():
    from agents.documents.fields import extract_fields, money

    assert [str(money(v)) for v in ("1.816,95", "1,816.95", "1816.95", "12.500", "1,5", "1816")] == [
        "1816.95",
        "1816.95",
        "1816.95",
        "12500.00",
        "1.50",
        "1816.00",
    ]
    fields = extract_fields("Comprobante de pago\nImporte debitado: $ 12.500\nFecha: 05/11/2026", "payment_receipt")
    assert (fields["total"], fields["currency"]) == ("12500.00", "UYU")


def test_corrections_are_checked_and_written_the_readers_way(tenant, admin_user):
    invoice = corpus.invoice(random.Random(12), 700, issued=date(2026, 11, 1), broken_total=True)
    _, _, read = run(tenant, [invoice])
    document = read[invoice.filename]
    for corrections, words in (
        ({"kind": "factura"}, "el tipo 'factura' no es uno de"),
        ({"total": "mucho"}, "no es un importe"),
        ({"issue_date": "ayer"}, "no es una fecha"),
        ({"currency": "EUR"}, "tiene que ser USD o UYU"),
    ):
        with pytest.raises(DocumentError, match=words):
            document_review(document=document, action="correct", corrections=corrections, user=admin_user, via="admin")
    right = Decimal(invoice.expected["subtotal"]) + Decimal(invoice.expected["iva"])
    document_review(
        document=document, action="correct", corrections={"total": corpus.uy(right)}, user=admin_user, via="admin"
    )
    document.refresh_from_db()
    assert document.fields["total"] == str(right)  # '1.234,56' written as the reader writes it
    assert next(c for c in document.checks if c["check"] == "total_adds_up")["ok"]  # checked again


def test_a_copy_of_a_file_that_could_not_be_read_goes_to_review_too(tenant):
    """The copy was ingested while the original was still being read, so it is a duplicate; then
    the original failed a later stage. The copy must not vanish from sight."""
    from agents.documents.stages import document_fail, document_ingest

    invoice = corpus.invoice(random.Random(1), 1, issued=date(2026, 11, 1))
    batch = batch_create(
        tenant=tenant,
        uploads=[Upload("factura.pdf", invoice.content), Upload("copia.pdf", invoice.content)],
        source="api",
    )
    original, copy = Document.objects.filter(batch=batch).order_by("pk")
    document_ingest(document_id=original.pk)
    document_ingest(document_id=copy.pk)
    document_fail(document_id=original.pk, stage="extract", reason="extract took too long: over 60 s.")
    batch_crosscheck(batch_id=batch.pk)
    copy.refresh_from_db()
    assert copy.status == "duplicate" and copy.duplicate_of_id == original.pk
    assert copy.review == "pending" and "una copia de 'factura.pdf', que no se pudo leer" in copy.review_reason


@pytest.mark.skipif(__import__("shutil").which("tesseract") is not None, reason="OCR is installed here")
def test_a_photo_without_ocr_says_so_and_goes_to_review(tenant):
    photo = corpus.Sample("foto-comprobante.png", b"\x89PNG\r\n\x1a\n" + bytes(256), "payment_receipt")
    _, _, read = run(tenant, [photo])
    document = read["foto-comprobante.png"]
    assert (document.status, document.file_type, document.ocr) == (
        "done",
        "png",
        "no disponible: Tesseract no está instalado",
    )
    assert document.kind == "other" and document.review == "pending"


def test_a_finished_batch_stays_finished_and_a_late_stage_reopens_nothing(tenant):
    from agents.documents.stages import document_classify

    batch, summary, read = run(tenant, [corpus.invoice(random.Random(2), 2, issued=date(2026, 11, 1))])
    assert batch_crosscheck(batch_id=batch.pk) == summary  # the callback and the watchdog both came
    (document,) = read.values()
    document_classify(document_id=document.pk)  # a redelivered stage, after the end
    document.refresh_from_db()
    assert document.status == "done" and document.stage == "crosscheck"


@pytest.mark.django_db(transaction=True)  # on_retry runs as in the worker's main process, between transactions
def test_a_file_that_keeps_killing_its_worker_fails_alone_at_the_third_loss(tenant):
    from celery.exceptions import WorkerLostError

    from tasks import documents as stages

    batch = batch_create(
        tenant=tenant, uploads=[Upload(s.filename, s.content) for s in corpus.corpus(seed=8, invoices=1)], source="api"
    )
    poison, healthy = Document.objects.filter(batch=batch).order_by("pk")[:2]
    lost = WorkerLostError("Worker exited prematurely: signal 9 (SIGKILL) Job: 7.")
    for _ in range(2):  # what the worker's main process calls when it sends a lost stage again
        stages.extract_text.on_retry(lost, "task-id", (poison.pk,), {}, None)
    poison.refresh_from_db()
    assert (poison.status, poison.attempts) == ("pending", 2)  # still worth another try
    stages.extract_text.on_retry(lost, "task-id", (poison.pk,), {}, None)
    stages.extract_text.on_retry(ConnectionError("reset"), "task-id", (healthy.pk,), {}, None)  # not a loss
    poison.refresh_from_db()
    assert (poison.status, poison.stage) == ("failed", "extract")
    assert poison.error == f"{Document.Stage.EXTRACT.label}: hizo caer su proceso 3 veces; no se intenta más."
    for stage in (stages.ingest, stages.validate):  # passed by
        assert stage(poison.pk) == poison.pk
    poison.refresh_from_db()
    assert poison.status == "failed"
    assert Document.objects.get(pk=healthy.pk).attempts == 0
    stages_of = stages.extract_text
    # a stage may meet its transient retries and its worker losses both, and still be sent again
    assert (
        stages_of.retry_on_worker_lost
        and stages_of.max_retries >= stages.TRANSIENT_RETRIES + document_flow.MAX_WORKER_LOSSES
    )


def test_the_watchdog_finishes_stale_batches_only(tenant):
    from datetime import timedelta

    from django.utils import timezone

    from tasks.documents import watch_batches

    stale = batch_create(tenant=tenant, uploads=[Upload("a.txt", b"factura 1")], source="api")
    busy = batch_create(tenant=tenant, uploads=[Upload("b.txt", b"factura 2")], source="api")
    long_ago = timezone.now() - timedelta(hours=2)
    from bmc.documents.models import DocumentBatch

    DocumentBatch.objects.filter(pk__in=[stale.pk, busy.pk]).update(created_at=long_ago)
    Document.objects.filter(batch=stale).update(updated_at=long_ago)  # busy's document moved just now
    result = watch_batches.run()
    assert result == {"finished": [stale.pk], "failed": []}
    assert Document.objects.get(batch=stale).status == "failed"
    assert DocumentBatch.objects.get(pk=busy.pk).status == "running"


def test_an_emailed_invoice_is_read_as_a_document_of_its_own(tenant):
    from email.message import EmailMessage

    invoice = corpus.invoice(random.Random(30), 900, issued=date(2026, 11, 3))
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "facturacion@proveedor.uy", "compras@bmc.uy", "Factura A-0000900"
    mail.set_content("Adjuntamos la factura de noviembre.\nSaludos")
    mail.add_attachment(invoice.content, maintype="application", subtype="pdf", filename=invoice.filename)
    batch, _, read = run(tenant, [corpus.Sample("factura.eml", mail.as_bytes(), "other")])
    assert batch.total == 2
    attached = read[f"factura.eml / {invoice.filename}"]
    assert (attached.file_type, attached.kind, attached.fields["total"]) == (
        "pdf",
        "invoice",
        invoice.expected["total"],
    )
    assert read["factura.eml"].file_type == "eml" and f"[adjunto: {invoice.filename}]" in read["factura.eml"].text
