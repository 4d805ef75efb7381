"""Batches of documents (invoices, purchase orders, receipts, delivery notes) the documents agent
reads, checks and, when in doubt, puts in front of a person."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from bmc.conversations.models import Message
from bmc.core.models import TenantOwned


class DocumentBlob(models.Model):
    """A file's bytes, stored once per content (sha256): every worker machine reads them from the
    database, and the same file uploaded twice is stored once."""

    sha256 = models.CharField(max_length=64, primary_key=True)
    content = models.BinaryField()
    size = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.sha256[:12]} ({self.size} bytes)"


class DocumentBatch(TenantOwned):
    class Source(models.TextChoices):
        API = "api", "API"
        ADMIN = "admin", "Admin upload"
        WHATSAPP = "whatsapp", "WhatsApp"

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        DONE = "done", "Done"

    name = models.CharField(max_length=200, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.API)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    total = models.PositiveIntegerField(default=0)
    summary = models.JSONField(default=dict, blank=True, help_text="Cross-checks and quality, when done.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "document batches"

    def __str__(self) -> str:
        return f"Batch {self.pk} ({self.total} documents, {self.status})"


class Document(TenantOwned):
    class Stage(models.TextChoices):
        INGEST = "ingest", "Ingest"
        EXTRACT = "extract", "Text extraction"
        CLASSIFY = "classify", "Classification"
        FIELDS = "fields", "Field extraction"
        VALIDATE = "validate", "Validation"
        CROSSCHECK = "crosscheck", "Cross-check"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        DUPLICATE = "duplicate", "Duplicate"

    class Kind(models.TextChoices):
        INVOICE = "invoice", "Invoice (CFE)"
        PURCHASE_ORDER = "purchase_order", "Purchase order"
        PAYMENT_RECEIPT = "payment_receipt", "Payment receipt"
        DELIVERY_NOTE = "delivery_note", "Delivery note"
        QUOTE_REQUEST = "quote_request", "Quote request"
        OTHER = "other", "Other"

    class Review(models.TextChoices):
        NOT_NEEDED = "not_needed", "Not needed"
        PENDING = "pending", "Waiting for review"
        APPROVED = "approved", "Approved"
        CORRECTED = "corrected", "Corrected"
        REJECTED = "rejected", "Rejected"

    batch = models.ForeignKey(DocumentBatch, on_delete=models.CASCADE, related_name="documents")
    filename = models.CharField(max_length=255)
    blob = models.ForeignKey(DocumentBlob, null=True, blank=True, on_delete=models.PROTECT, related_name="documents")
    sha256 = models.CharField(max_length=64, db_index=True)
    size = models.PositiveIntegerField(default=0)
    file_type = models.CharField(max_length=10, blank=True, help_text="Detected from the content: pdf, png, ...")
    pages = models.PositiveIntegerField(null=True, blank=True)
    duplicate_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    stage = models.CharField(max_length=12, choices=Stage.choices, default=Stage.INGEST)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    error = models.TextField(blank=True, help_text="Why it failed, for a person to read.")
    attempts = models.PositiveSmallIntegerField(default=0)
    text = models.TextField(blank=True)
    ocr = models.CharField(max_length=120, blank=True, help_text="'', 'done', or why OCR did not run.")
    kind = models.CharField(max_length=20, choices=Kind.choices, blank=True)
    kind_confidence = models.FloatField(null=True, blank=True)
    fields = models.JSONField(default=dict, blank=True)
    checks = models.JSONField(default=list, blank=True, help_text="Validation and cross-checks: [{check, ok, detail}]")
    quality = models.FloatField(null=True, blank=True, help_text="0 to 1: below the threshold goes to review.")
    review = models.CharField(max_length=12, choices=Review.choices, default=Review.NOT_NEEDED)
    review_reason = models.CharField(max_length=300, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_via = models.CharField(
        max_length=120, blank=True, help_text="Where the review came from: the admin, or which API key."
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    FINAL = (Status.DONE, Status.FAILED, Status.DUPLICATE)

    class Meta:
        ordering = ["batch", "id"]
        indexes = [models.Index(fields=["tenant", "review"]), models.Index(fields=["batch", "status"])]

    def __str__(self) -> str:
        return f"{self.filename} ({self.get_kind_display() or self.file_type or 'unread'})"


class DocumentCorrection(TenantOwned):
    """A person's correction of an extracted field: what the agent read and what it should have."""

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="corrections")
    field = models.CharField(max_length=40)
    extracted = models.JSONField(null=True, blank=True)
    corrected = models.JSONField(null=True, blank=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    via = models.CharField(max_length=120, blank=True, help_text="The admin, or which API key.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.document}: {self.field}"
