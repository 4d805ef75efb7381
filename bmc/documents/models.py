"""Batches of documents (invoices, purchase orders, receipts, delivery notes) the documents agent
reads, checks and, when in doubt, puts in front of a person."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext, ngettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from bmc.conversations.models import Message
from bmc.core.models import TenantOwned


class DocumentBlob(models.Model):
    """A file's bytes, stored once per content (sha256): every worker machine reads them from the
    database, and the same file uploaded twice is stored once."""

    sha256 = models.CharField(_("sha256"), max_length=64, primary_key=True)
    content = models.BinaryField(_("content"))
    size = models.PositiveIntegerField(_("size"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("document blob")
        verbose_name_plural = _("document blobs")

    def __str__(self) -> str:
        return gettext("%(sha256)s (%(size)s bytes)") % {"sha256": self.sha256[:12], "size": self.size}


class DocumentBatch(TenantOwned):
    class Source(models.TextChoices):
        API = "api", "API"
        ADMIN = "admin", _("Admin upload")
        WHATSAPP = "whatsapp", "WhatsApp"

    class Status(models.TextChoices):
        RUNNING = "running", pgettext_lazy("document batch status", "Running")
        DONE = "done", pgettext_lazy("document batch status", "Done")

    name = models.CharField(_("name"), max_length=200, blank=True)
    source = models.CharField(_("source"), max_length=10, choices=Source.choices, default=Source.API)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.RUNNING)
    total = models.PositiveIntegerField(_("total"), default=0)
    summary = models.JSONField(
        _("summary"), default=dict, blank=True, help_text=_("Cross-checks and quality, when done.")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("document batch")
        verbose_name_plural = _("document batches")

    def __str__(self) -> str:
        return ngettext(
            "Batch %(id)s (%(total)s document, %(status)s)",
            "Batch %(id)s (%(total)s documents, %(status)s)",
            self.total,
        ) % {"id": self.pk, "total": self.total, "status": self.get_status_display().lower()}


class Document(TenantOwned):
    class Stage(models.TextChoices):
        INGEST = "ingest", _("Ingest")
        EXTRACT = "extract", _("Text extraction")
        CLASSIFY = "classify", _("Classification")
        FIELDS = "fields", _("Field extraction")
        VALIDATE = "validate", _("Validation")
        CROSSCHECK = "crosscheck", _("Cross-check")

    class Status(models.TextChoices):
        PENDING = "pending", pgettext_lazy("document status", "Pending")
        RUNNING = "running", pgettext_lazy("document status", "Running")
        DONE = "done", pgettext_lazy("document status", "Done")
        FAILED = "failed", pgettext_lazy("document status", "Failed")
        DUPLICATE = "duplicate", pgettext_lazy("document status", "Duplicate")

    class Kind(models.TextChoices):
        INVOICE = "invoice", _("Invoice (CFE)")
        PURCHASE_ORDER = "purchase_order", _("Purchase order")
        PAYMENT_RECEIPT = "payment_receipt", _("Payment receipt")
        DELIVERY_NOTE = "delivery_note", _("Delivery note")
        QUOTE_REQUEST = "quote_request", _("Quote request")
        OTHER = "other", pgettext_lazy("document kind", "Other")

    class Review(models.TextChoices):
        NOT_NEEDED = "not_needed", pgettext_lazy("document review", "Not needed")
        PENDING = "pending", pgettext_lazy("document review", "Waiting for review")
        APPROVED = "approved", pgettext_lazy("document review", "Approved")
        CORRECTED = "corrected", pgettext_lazy("document review", "Corrected")
        REJECTED = "rejected", pgettext_lazy("document review", "Rejected")

    batch = models.ForeignKey(
        DocumentBatch, on_delete=models.CASCADE, related_name="documents", verbose_name=_("batch")
    )
    filename = models.CharField(_("filename"), max_length=255)
    blob = models.ForeignKey(
        DocumentBlob,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="documents",
        verbose_name=_("blob"),
    )
    sha256 = models.CharField(_("sha256"), max_length=64, db_index=True)
    size = models.PositiveIntegerField(_("size"), default=0)
    file_type = models.CharField(
        _("file type"), max_length=10, blank=True, help_text=_("Detected from the content: pdf, png, ...")
    )
    pages = models.PositiveIntegerField(_("pages"), null=True, blank=True)
    duplicate_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("duplicate of")
    )
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("message")
    )
    stage = models.CharField(_("stage"), max_length=12, choices=Stage.choices, default=Stage.INGEST)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    error = models.TextField(_("error"), blank=True, help_text=_("Why it failed, for a person to read."))
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    text = models.TextField(_("text"), blank=True)
    ocr = models.CharField(_("ocr"), max_length=120, blank=True, help_text=_("'', 'done', or why OCR did not run."))
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, blank=True)
    kind_confidence = models.FloatField(_("kind confidence"), null=True, blank=True)
    fields = models.JSONField(_("fields"), default=dict, blank=True)
    checks = models.JSONField(
        _("checks"), default=list, blank=True, help_text=_("Validation and cross-checks: [{check, ok, detail}]")
    )
    quality = models.FloatField(
        _("quality"), null=True, blank=True, help_text=_("0 to 1: below the threshold goes to review.")
    )
    review = models.CharField(_("review"), max_length=12, choices=Review.choices, default=Review.NOT_NEEDED)
    review_reason = models.CharField(_("review reason"), max_length=300, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("reviewed by"),
    )
    reviewed_via = models.CharField(
        _("reviewed via"),
        max_length=120,
        blank=True,
        help_text=_("Where the review came from: the admin, or which API key."),
    )
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    FINAL = (Status.DONE, Status.FAILED, Status.DUPLICATE)

    class Meta:
        verbose_name = _("document")
        verbose_name_plural = _("documents")
        ordering = ["batch", "id"]
        indexes = [models.Index(fields=["tenant", "review"]), models.Index(fields=["batch", "status"])]

    def __str__(self) -> str:
        return f"{self.filename} ({self.get_kind_display() or self.file_type or gettext('unread')})"


# What staff read for each field the agent extracts and a person reviews or corrects
# (agents/documents/review.py REVIEWABLE_FIELDS: the keys, never shown as they are).
FIELD_LABELS = {
    "kind": _("kind"),
    "number": _("number"),
    "rut": _("RUT"),
    "issue_date": _("issue date"),
    "due_date": _("due date"),
    "currency": _("currency"),
    "subtotal": _("subtotal"),
    "iva": _("VAT"),
    "total": _("total"),
}


class DocumentCorrection(TenantOwned):
    """A person's correction of an extracted field: what the agent read and what it should have."""

    document = models.ForeignKey(
        Document, on_delete=models.CASCADE, related_name="corrections", verbose_name=_("document")
    )
    field = models.CharField(_("field"), max_length=40)
    extracted = models.JSONField(_("extracted"), null=True, blank=True)
    corrected = models.JSONField(_("corrected"), null=True, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("user")
    )
    via = models.CharField(_("via"), max_length=120, blank=True, help_text=_("The admin, or which API key."))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("document correction")
        verbose_name_plural = _("document corrections")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.document}: {self.field_label}"

    @property
    def field_label(self) -> str:
        return str(FIELD_LABELS.get(self.field, self.field))
