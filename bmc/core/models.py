"""Core records. Every one belongs to a tenant; the default tenant is `bmc`."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from rest_framework_api_key.models import AbstractAPIKey, APIKeyManager

e164_validator = RegexValidator(
    regex=r"^\+[1-9]\d{6,14}$",
    message=_("Phone must be in E.164 format: '+' then 7 to 15 digits, e.g. +59899123456."),
)


class Tenant(models.Model):
    class Tier(models.TextChoices):
        BASIC = "basic", _("Basic")
        PRO = "pro", _("Pro")
        ENTERPRISE = "enterprise", _("Enterprise")

    slug = models.SlugField(_("slug"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=200)
    tier = models.CharField(_("tier"), max_length=20, choices=Tier.choices, default=Tier.BASIC)
    whatsapp_phone_number_id = models.CharField(
        _("WhatsApp phone number id"),
        max_length=32,
        blank=True,
        help_text=_(
            "The WhatsApp Cloud API phone number id this company answers on. Messages to it are "
            "this company's, and its replies leave from it. Empty: WHATSAPP_PHONE_NUMBER_ID (the default "
            "company)."
        ),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("tenant")
        verbose_name_plural = _("tenants")
        ordering = ["slug"]
        constraints = [
            models.UniqueConstraint(
                fields=["whatsapp_phone_number_id"],
                condition=~models.Q(whatsapp_phone_number_id=""),
                name="tenant_whatsapp_number_once",
            )
        ]

    @property
    def whatsapp_number(self) -> str:
        """The WhatsApp Cloud API number this company answers on and sends from: its own, or for
        the default company WHATSAPP_PHONE_NUMBER_ID. Empty: none."""
        if self.whatsapp_phone_number_id:
            return self.whatsapp_phone_number_id
        return settings.WHATSAPP_PHONE_NUMBER_ID if self.slug == settings.DEFAULT_TENANT_SLUG else ""

    def clean(self) -> None:
        number = self.whatsapp_phone_number_id
        if number and number == settings.WHATSAPP_PHONE_NUMBER_ID and self.slug != settings.DEFAULT_TENANT_SLUG:
            raise ValidationError(
                {
                    "whatsapp_phone_number_id": gettext(
                        "%(number)s is WHATSAPP_PHONE_NUMBER_ID, the default company's (%(default)s) number: "
                        "each company needs a number of its own."
                    )
                    % {"number": number, "default": settings.DEFAULT_TENANT_SLUG}
                }
            )

    def __str__(self) -> str:
        return self.slug


class TouchingQuerySet(models.QuerySet):
    """`update()` sets `updated_at` too: a status changed by a conditional UPDATE (paid, cancelled,
    expired) is a change like any `save()`, and whoever reads changes by `updated_at` (the CRM
    sheet's sync) sees it. Django's `auto_now` alone applies to `save()` only."""

    def update(self, **kwargs):
        kwargs.setdefault("updated_at", timezone.now())
        return super().update(**kwargs)


class TenantOwned(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="+", verbose_name=_("tenant"))

    class Meta:
        abstract = True


class TenantUsage(models.Model):
    """What a company used in a day, against its tier's limits (bmc/core/limits.py): counted in
    Redis as it happens, copied here by beat every minute."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="usage", verbose_name=_("tenant"))
    day = models.DateField(_("day"))
    messages = models.PositiveIntegerField(_("messages"), default=0, help_text=_("Customers' messages taken in."))
    documents = models.PositiveIntegerField(_("documents"), default=0, help_text=_("Documents received to read."))
    model_tokens = models.PositiveBigIntegerField(
        _("model tokens"), default=0, help_text=_("Tokens the language model read and wrote.")
    )
    model_cost = models.DecimalField(
        _("model cost (USD)"), max_digits=12, decimal_places=6, default=0, help_text=_("At OPENAI_COST_* prices.")
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("usage")
        verbose_name_plural = _("usage")
        ordering = ["-day", "tenant"]
        constraints = [models.UniqueConstraint(fields=["tenant", "day"], name="tenant_usage_once_a_day")]

    def __str__(self) -> str:
        return f"{self.tenant} {self.day}"


class NotInTenant(ObjectDoesNotExist):
    """An id a task was given is not one of its tenant's records (or no record at all): the task
    fails as not found, and nothing is changed. Never retried."""


def tenant_get(queryset: models.QuerySet, *, tenant_id: int, pk: object) -> models.Model:
    """The record `pk` of `queryset`'s model, only if it belongs to the tenant: how every task
    loads what its payload names."""
    try:
        return queryset.get(pk=pk, tenant_id=tenant_id)
    except (queryset.model.DoesNotExist, ValueError, TypeError, ValidationError):
        name = queryset.model._meta.verbose_name_raw  # the English msgid: an error of the code, not staff's text
        raise NotInTenant(f"{name} {pk} not found in this tenant (id {tenant_id})") from None


class ApiKeyManager(APIKeyManager):
    def get_usable_keys(self) -> models.QuerySet:
        return super().get_usable_keys().select_related("tenant")  # every request needs the tenant


class ApiKey(AbstractAPIKey):
    """An API key of one tenant. Stored hashed; the key itself is shown once, when created."""

    # the library's fields again, named for staff: its own texts come without a Spanish catalog
    prefix = models.CharField(_("prefix"), max_length=8, unique=True, editable=False)
    created = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    name = models.CharField(
        _("name"),
        max_length=50,
        blank=False,
        default=None,
        help_text=_("A name for the key, to tell it apart (who uses it, what for). Need not be unique."),
    )
    revoked = models.BooleanField(
        _("revoked"),
        blank=True,
        default=False,
        help_text=_("A revoked key can no longer be used, and this cannot be undone."),
    )
    expiry_date = models.DateTimeField(
        _("expires"), blank=True, null=True, help_text=_("Once the key expires, it can no longer be used.")
    )
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="api_keys", verbose_name=_("tenant"))

    objects = ApiKeyManager()

    class Meta(AbstractAPIKey.Meta):
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
