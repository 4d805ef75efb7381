"""Realistic documents with known field values, made with reportlab (and pypdf, openpyxl for the
malformed ones): CFE invoices, Uruguayan banks' transfer receipts, purchase orders, delivery
notes. Used by the tests and by bench/documents_batch.py."""

from __future__ import annotations

import io
import random
import zipfile
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas
from stdnum.uy import rut as uy_rut

CENT = Decimal("0.01")
PRODUCTS = [
    ("Isodec EPS 100 mm", Decimal("47.50")),
    ("Isopanel EPS 50 mm", Decimal("33.90")),
    ("Kit de fijacion para techo", Decimal("37.60")),
    ("Gotero frontal (pieza 3,0 m)", Decimal("14.90")),
    ("Silicona neutra (pomo)", Decimal("6.50")),
    ("Isofrig PIR 100 mm", Decimal("61.20")),
]


def uy(value: Decimal) -> str:
    """1816.95 -> '1.816,95', as Uruguayan documents print it."""
    whole, cents = f"{value:.2f}".split(".")
    return f"{int(whole):,}".replace(",", ".") + "," + cents


def rut_make(body: str) -> str:
    return body + uy_rut.calc_check_digit(body)


def rut_random(rng: random.Random) -> str:
    """A valid company RUT (some bodies have no valid check digit: those are skipped)."""
    while True:
        body = f"21{rng.randint(100000, 999999)}001"
        if len(uy_rut.calc_check_digit(body)) == 1:
            return rut_make(body)


def rut_printed(rut: str) -> str:
    return uy_rut.format(rut)


@dataclass
class Sample:
    filename: str
    content: bytes
    kind: str
    expected: dict = field(default_factory=dict)  # the fields a reader should find


def pdf(lines: list[str]) -> bytes:
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, pagesize=A4)
    y = 800
    for line in lines:
        page.setFont("Helvetica-Bold" if line.isupper() else "Helvetica", 10)
        page.drawString(50, y, line)
        y -= 16
        if y < 60:
            page.showPage()
            y = 800
    page.save()
    return buffer.getvalue()


def _lines(rng: random.Random, count: int) -> tuple[list[dict], Decimal]:
    chosen, subtotal = [], Decimal("0")
    for description, price in rng.sample(PRODUCTS, count):
        quantity = Decimal(rng.choice(["1", "2", "4", "10", "12", "26,88"]).replace(",", "."))
        amount = (quantity * price).quantize(CENT)
        subtotal += amount
        chosen.append({"description": description, "quantity": quantity, "unit_price": price, "amount": amount})
    return chosen, subtotal


def invoice(rng: random.Random, number: int, *, issued: date, broken_total: bool = False) -> Sample:
    emitter = rut_make("21100342001")
    customer = rut_random(rng)
    lines, subtotal = _lines(rng, rng.randint(2, 4))
    iva = (subtotal * Decimal("0.22")).quantize(CENT)
    total = subtotal + iva + (Decimal("10.00") if broken_total else 0)
    text = [
        "BMC URUGUAY S.A.",
        f"RUT Emisor: {rut_printed(emitter)}",
        f"e-Factura Serie A N° {number:07d}",
        f"Fecha de emision: {issued:%d/%m/%Y}",
        f"Fecha de vencimiento: {issued + timedelta(days=30):%d/%m/%Y}",
        f"RUT Receptor: {rut_printed(customer)}",
        "Cliente: Construcciones del Este SRL",
        "Moneda: USD",
        "Descripcion Cant. P. Unit. Importe",
        *[f"{ln['description']} {uy(ln['quantity'])} {uy(ln['unit_price'])} {uy(ln['amount'])}" for ln in lines],
        f"Subtotal: {uy(subtotal)}",
        f"IVA 22%: {uy(iva)}",
        f"Total: {uy(total)}",
        "Comprobante fiscal electronico - verifique en www.dgi.gub.uy",
    ]
    expected = {
        "number": f"A-{number:07d}",
        "rut": emitter,
        "issue_date": issued.isoformat(),
        "due_date": (issued + timedelta(days=30)).isoformat(),
        "currency": "USD",
        "subtotal": str(subtotal.quantize(CENT)),
        "iva": str(iva),
        "total": str(total.quantize(CENT)),
    }
    return Sample(f"factura-A-{number:07d}.pdf", pdf(text), "invoice", expected)


def receipt(rng: random.Random, *, amount: Decimal, paid: date, reference: str, bank: str = "brou") -> Sample:
    operation = str(rng.randint(100000000, 999999999))
    if bank == "brou":
        text = [
            "BANCO REPUBLICA - eBROU",
            "Comprobante de transferencia",
            f"Fecha de la operacion: {paid:%d/%m/%Y} 10:42",
            f"Numero de operacion: {operation}",
            "Cuenta origen: CA 001234567-00001 USD",
            "Cuenta destino: CC 009876543-00002 BMC URUGUAY S.A.",
            f"Concepto: pago {reference}",
            f"Importe transferido: USD {uy(amount)}",
        ]
    else:
        text = [
            "Itau Uruguay - Banca Electronica",
            "Comprobante de Transferencia",
            f"Fecha: {paid.isoformat()}",
            f"Referencia: {operation}",
            "Moneda: U$S",
            f"Monto transferido: {amount:,.2f}",
            "Beneficiario: BMC Uruguay S.A.",
            f"Concepto: {reference}",
        ]
    expected = {"number": operation, "issue_date": paid.isoformat(), "currency": "USD", "total": str(amount)}
    return Sample(f"comprobante-{bank}-{operation}.pdf", pdf(text), "payment_receipt", expected)


def purchase_order(rng: random.Random, *, number: str, quote: str, issued: date) -> Sample:
    lines, subtotal = _lines(rng, 2)
    iva = (subtotal * Decimal("0.22")).quantize(CENT)
    total = subtotal + iva
    buyer = rut_random(rng)
    text = [
        "CONSTRUCCIONES DEL ESTE SRL",
        f"RUT {rut_printed(buyer)}",
        f"ORDEN DE COMPRA N° {number}",
        f"Fecha: {issued:%d/%m/%Y}",
        "Proveedor: BMC Uruguay S.A.",
        f"Segun cotizacion {quote}",
        *[f"{ln['description']} {uy(ln['quantity'])} {uy(ln['unit_price'])} {uy(ln['amount'])}" for ln in lines],
        f"Subtotal: {uy(subtotal)}",
        f"IVA 22%: {uy(iva)}",
        f"Total: USD {uy(total)}",
        "Lugar de entrega: Ruta 8 km 29, Pando",
    ]
    expected = {"number": number, "rut": buyer, "issue_date": issued.isoformat(), "total": str(total)}
    return Sample(f"orden-{number}.pdf", pdf(text), "purchase_order", expected)


def delivery_note(rng: random.Random, *, number: int, delivered: date) -> Sample:
    text = [
        f"REMITO N° R-{number:06d}",
        f"Fecha: {delivered:%d/%m/%Y}",
        "Cliente: Construcciones del Este SRL",
        "Transportista: Transportes Rodriguez",
        "Isodec EPS 100 mm - cantidad entregada: 28",
        "Recibi conforme: ____________________",
    ]
    return Sample(
        f"remito-{number:06d}.pdf",
        pdf(text),
        "delivery_note",
        {"number": f"R-{number:06d}", "issue_date": delivered.isoformat()},
    )


def truncated_pdf(source: bytes) -> Sample:
    return Sample("cortado.pdf", source[: len(source) // 3], "broken")


def many_pages_pdf(pages: int = 10_000) -> Sample:
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=200, height=200)
    buffer = io.BytesIO()
    writer.write(buffer)
    return Sample("diez-mil-paginas.pdf", buffer.getvalue(), "broken")


def zip_bomb_xlsx() -> Sample:
    """A 'spreadsheet' that unpacks to 200 MB of zeros."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (200 * 1024 * 1024))
    return Sample("planilla.xlsx", buffer.getvalue(), "broken")


def wrong_type() -> Sample:
    """An executable named like an invoice."""
    return Sample("factura.pdf", b"\x7fELF\x02\x01\x01" + bytes(range(256)) * 8, "broken")


def corpus(seed: int = 7, *, invoices: int = 4, today: date = date(2026, 11, 20)) -> list[Sample]:
    """A day's mail: invoices, the receipts that pay some of them, an order and a delivery note."""
    rng = random.Random(seed)
    samples = [invoice(rng, 1200 + i, issued=today - timedelta(days=rng.randint(1, 20))) for i in range(invoices)]
    first = samples[0]
    samples.append(
        receipt(
            rng, amount=Decimal(first.expected["total"]), paid=today, reference=f"factura {first.expected['number']}"
        )
    )
    samples.append(receipt(rng, amount=Decimal("999.99"), paid=today, reference="factura A-7777777", bank="itau"))
    samples.append(delivery_note(rng, number=321, delivered=today))
    return samples
