"""Quotes and the catalog they are priced from: each catalog import a version of its own, its
products, and the quotes with their lines, which record the version they were priced with."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from bmc.conversations.models import Conversation, Customer, Message
from bmc.core.models import TenantOwned, TouchingQuerySet


class CatalogVersion(TenantOwned):
    """One import of the catalog. Quotes record the version they were priced with."""

    version = models.PositiveIntegerField(_("version"))
    source = models.CharField(_("source"), max_length=300)
    checksum = models.CharField(_("checksum"), max_length=64, help_text=_("SHA-256 of the imported rows."))
    product_count = models.PositiveIntegerField(_("product count"), default=0)
    is_current = models.BooleanField(_("current"), default=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("catalog version")
        verbose_name_plural = _("catalog versions")
        db_table = "core_catalogversion"  # moved from bmc.core, its table kept
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "version"], name="catalog_version_unique_per_tenant"),
        ]

    def __str__(self) -> str:
        return gettext("%(tenant)s catalog v%(version)s") % {"tenant": self.tenant, "version": self.version}


class Product(TenantOwned):
    class Kind(models.TextChoices):
        PANEL = "panel", pgettext_lazy("product kind", "Panel")
        ACCESSORY = "accessory", pgettext_lazy("product kind", "Accessory")
        SHIPPING = "shipping", pgettext_lazy("product kind", "Shipping")

    catalog_version = models.ForeignKey(
        CatalogVersion, on_delete=models.CASCADE, related_name="products", verbose_name=_("catalog version")
    )
    sku = models.CharField(_("SKU"), max_length=60)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    family = models.CharField(_("family"), max_length=60, blank=True)
    name = models.CharField(_("name"), max_length=200)
    use = models.CharField(_("use"), max_length=20, blank=True)
    thickness_mm = models.PositiveIntegerField(_("thickness (mm)"), null=True, blank=True)
    useful_width_m = models.DecimalField(_("useful width (m)"), max_digits=6, decimal_places=3, null=True, blank=True)
    max_span_m = models.DecimalField(_("max span (m)"), max_digits=6, decimal_places=2, null=True, blank=True)
    unit = models.CharField(_("unit"), max_length=20)
    piece_length_m = models.DecimalField(_("piece length (m)"), max_digits=6, decimal_places=2, null=True, blank=True)
    price_venta_usd = models.DecimalField(_("sale price (USD)"), max_digits=12, decimal_places=2)
    price_web_usd = models.DecimalField(_("web price (USD)"), max_digits=12, decimal_places=2)
    colors = models.JSONField(_("colors"), default=list, blank=True)

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        db_table = "core_product"  # moved from bmc.core, its table kept
        ordering = ["sku"]
        constraints = [
            models.UniqueConstraint(fields=["catalog_version", "sku"], name="product_sku_unique_per_version"),
        ]

    def __str__(self) -> str:
        return f"{self.sku} ({self.name})"


class Quote(TenantOwned):
    """A priced quote. Its lines and totals never change once issued: they record the catalog
    version they were priced with."""

    class Status(models.TextChoices):
        DRAFT = "draft", pgettext_lazy("quote status", "Draft")
        PENDING_APPROVAL = "pending_approval", pgettext_lazy("quote status", "Pending approval")
        SENT = "sent", pgettext_lazy("quote status", "Sent")
        ACCEPTED = "accepted", pgettext_lazy("quote status", "Accepted")
        REJECTED = "rejected", pgettext_lazy("quote status", "Rejected")
        EXPIRED = "expired", pgettext_lazy("quote status", "Expired")

    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.PROTECT, related_name="quotes", verbose_name=_("customer")
    )
    conversation = models.ForeignKey(
        Conversation,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="quotes",
        verbose_name=_("conversation"),
    )
    source_message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("source message")
    )
    catalog_version = models.ForeignKey(
        CatalogVersion, on_delete=models.PROTECT, related_name="quotes", verbose_name=_("catalog version")
    )
    spec = models.JSONField(_("spec"), default=dict)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.DRAFT)
    price_list = models.CharField(_("price list"), max_length=10, default="venta")
    currency = models.CharField(_("currency"), max_length=3, default="USD")
    subtotal = models.DecimalField(_("subtotal"), max_digits=12, decimal_places=2)
    iva = models.DecimalField(_("IVA"), max_digits=12, decimal_places=2)
    total = models.DecimalField(_("total"), max_digits=12, decimal_places=2)
    estimate = models.BooleanField(
        _("estimate"), default=False, help_text=_("Priced from an area only; measures pending.")
    )
    requires_approval = models.BooleanField(
        _("requires approval"), default=False, help_text=_("Over 10,000 USD: staff approve before it is sent.")
    )
    option_group = models.CharField(
        _("option group"), max_length=64, blank=True, help_text=_("Alternatives asked together share it.")
    )
    option_key = models.CharField(
        _("option key"),
        max_length=64,
        blank=True,
        help_text=_("Which alternative of its group (a digest of its spec): stored once."),
    )
    valid_until = models.DateField(_("valid until"))
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("approved by"),
    )
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    decided_at = models.DateTimeField(
        _("decided at"), null=True, blank=True, help_text=_("When it was accepted or rejected.")
    )
    ordered_at = models.DateTimeField(
        _("ordered at"), null=True, blank=True, help_text=_("When the accepted quote became an order.")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = TouchingQuerySet.as_manager()

    class Meta:
        verbose_name = _("quote")
        verbose_name_plural = _("quotes")
        db_table = "core_quote"  # moved from bmc.core: its table and indexes kept
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["tenant", "status"], name="core_quote_tenant__3d9b50_idx"),
            models.Index(fields=["option_group"], name="core_quote_option__eca589_idx"),
        ]
        constraints = [
            # an alternative priced twice (its task run twice, even at the same time) is one quote
            models.UniqueConstraint(
                fields=["conversation", "option_group", "option_key"],
                condition=~models.Q(option_group=""),
                name="quote_option_once",
            )
        ]
        permissions = [("approve_quote", "Can approve quotes over the approval threshold")]

    def __str__(self) -> str:
        return f"{self.number} ({self.total} {self.currency})"

    @property
    def number(self) -> str:
        return f"COT-{self.pk:06d}" if self.pk else "COT-(nueva)"


class QuoteLine(models.Model):
    quote = models.ForeignKey(Quote, on_delete=models.CASCADE, related_name="lines", verbose_name=_("quote"))
    position = models.PositiveSmallIntegerField(_("position"))
    sku = models.CharField(_("SKU"), max_length=60)
    description = models.CharField(_("description"), max_length=200)
    unit = models.CharField(_("unit"), max_length=20)
    quantity = models.DecimalField(_("quantity"), max_digits=12, decimal_places=2)
    unit_price = models.DecimalField(_("unit price"), max_digits=12, decimal_places=2)
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    reason = models.CharField(_("reason"), max_length=200, blank=True, help_text=_("Why, for a staff discount line."))

    class Meta:
        verbose_name = _("quote line")
        verbose_name_plural = _("quote lines")
        db_table = "core_quoteline"  # moved from bmc.core, its table kept
        ordering = ["quote", "position"]
        constraints = [models.UniqueConstraint(fields=["quote", "position"], name="quote_line_position_unique")]

    def __str__(self) -> str:
        return f"{self.sku} x {self.quantity}"
