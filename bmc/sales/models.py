"""Follow-ups of quotes, collections (dunning) and the tasks they leave for staff."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.formats import date_format, number_format
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from bmc.conversations.models import Conversation, Customer, Message
from bmc.core.models import Tenant, TenantOwned, TouchingQuerySet
from bmc.quotes.models import Quote
from bmc.sales.policy import (
    DEFAULT_QUIET_END,
    DEFAULT_QUIET_START,
    DEFAULT_QUIET_WEEKDAYS,
    DEFAULT_STEPS_HOURS,
    DEFAULT_TIMEZONE,
    policy_errors,
)


def _default_steps() -> list[int]:
    return list(DEFAULT_STEPS_HOURS)


def _default_quiet_weekdays() -> list[int]:
    return list(DEFAULT_QUIET_WEEKDAYS)


class FollowUpPolicy(models.Model):
    """How a tenant contacts customers on its own initiative: quote follow-ups, reminders and
    collections. One per tenant, edited in the admin or at /api/v1/followups/policy."""

    tenant = models.OneToOneField(
        Tenant, on_delete=models.CASCADE, related_name="followup_policy", verbose_name=_("tenant")
    )
    enabled = models.BooleanField(
        pgettext_lazy("follow-up policy", "enabled"),
        default=True,
        help_text=_("Follow up quotes sent without an answer."),
    )
    steps_hours = models.JSONField(
        _("steps hours"),
        default=_default_steps,
        help_text=_("Hours after the quote is sent, in increasing order, e.g. [24, 48, 72]."),
    )
    max_attempts = models.PositiveSmallIntegerField(
        _("max attempts"), default=3, help_text=_("At most this many follow-ups per quote.")
    )
    quiet_start = models.TimeField(
        _("quiet start"),
        null=True,
        blank=True,
        default=DEFAULT_QUIET_START,
        help_text=_("No sends from this local time..."),
    )
    quiet_end = models.TimeField(
        _("quiet end"), null=True, blank=True, default=DEFAULT_QUIET_END, help_text=_("...until this one.")
    )
    quiet_weekdays = models.JSONField(
        _("quiet weekdays"),
        default=_default_quiet_weekdays,
        blank=True,
        help_text=_("Days without sends: 0 Monday ... 6 Sunday."),
    )
    timezone = models.CharField(_("timezone"), max_length=60, default=DEFAULT_TIMEZONE)
    rewrite_with_model = models.BooleanField(
        _("rewrite with model"),
        default=False,
        help_text=_("Let the language model reword each message (numbers are checked to stay the same)."),
    )
    whatsapp_template = models.CharField(
        _("whatsapp template"),
        max_length=100,
        default="seguimiento_cotizacion",
        blank=True,
        help_text=_("Approved WhatsApp template sent instead when the 24-hour window is closed."),
    )
    whatsapp_template_language = models.CharField(_("whatsapp template language"), max_length=10, default="es")
    expiry_reminder = models.BooleanField(
        _("expiry reminder"), default=True, help_text=_("Remind the day before a quote expires.")
    )
    order_wait_days = models.PositiveSmallIntegerField(
        _("order wait days"),
        default=3,
        help_text=_("An accepted quote with no order after this many days becomes a staff task."),
    )
    dunning_enabled = models.BooleanField(
        _("dunning enabled"), default=True, help_text=_("Remind customers of overdue invoices.")
    )
    dunning_firm_after_days = models.PositiveSmallIntegerField(_("dunning firm after days"), default=15)
    dunning_staff_after_days = models.PositiveSmallIntegerField(_("dunning staff after days"), default=30)
    dunning_repeat_days = models.PositiveSmallIntegerField(
        _("dunning repeat days"), default=7, help_text=_("Days between two reminders of the same invoice.")
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("follow-up policy")
        verbose_name_plural = _("follow-up policies")

    def __str__(self) -> str:
        return gettext("Follow-up policy of %(tenant)s") % {"tenant": self.tenant}

    def clean(self) -> None:
        errors = policy_errors(
            steps_hours=self.steps_hours,
            max_attempts=self.max_attempts,
            quiet_start=self.quiet_start,
            quiet_end=self.quiet_end,
            quiet_weekdays=self.quiet_weekdays,
            timezone_name=self.timezone,
        )
        if not errors and not self.dunning_firm_after_days < self.dunning_staff_after_days:
            errors["dunning_staff_after_days"] = gettext("must be later than the firm reminder (%(days)s days).") % {
                "days": self.dunning_firm_after_days
            }
        if errors:
            raise ValidationError(errors)

    @property
    def quiet_rules(self) -> dict:
        return {
            "timezone_name": self.timezone,
            "quiet_start": self.quiet_start,
            "quiet_end": self.quiet_end,
            "quiet_weekdays": self.quiet_weekdays or [],
        }


class FollowUp(TenantOwned):
    """One message the follow-up agent will send about a quote, unless something stops it."""

    class Kind(models.TextChoices):
        STEP = "step", _("Follow-up step")
        EXPIRY = "expiry", _("Expiry reminder")

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", pgettext_lazy("follow-up status", "Scheduled")
        QUEUED = "queued", pgettext_lazy("follow-up status", "Queued")  # claimed by a scan; its message is on its way
        SENT = "sent", pgettext_lazy("follow-up status", "Sent")
        CANCELLED = "cancelled", pgettext_lazy("follow-up status", "Cancelled")
        SKIPPED = (
            "skipped",
            pgettext_lazy("follow-up status", "Skipped"),
        )  # a later step was due too: only the later one went
        FAILED = "failed", pgettext_lazy("follow-up status", "Failed")

    OPEN = (Status.SCHEDULED, Status.QUEUED)

    quote = models.ForeignKey(Quote, on_delete=models.CASCADE, related_name="followups", verbose_name=_("quote"))
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="followups", verbose_name=_("customer")
    )
    conversation = models.ForeignKey(
        Conversation,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("conversation"),
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.STEP)
    step = models.PositiveSmallIntegerField(_("step"), default=1)
    due_at = models.DateTimeField(_("due at"))
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.SCHEDULED)
    reason = models.CharField(
        _("reason"), max_length=200, blank=True, help_text=_("Why it was cancelled, skipped or failed.")
    )
    message = models.OneToOneField(
        Message,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="followup",
        verbose_name=_("message"),
    )
    claimed_at = models.DateTimeField(pgettext_lazy("follow-up", "claimed at"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("follow-up")
        verbose_name_plural = _("follow-ups")
        ordering = ["due_at", "id"]
        constraints = [models.UniqueConstraint(fields=["quote", "kind", "step"], name="followup_once_per_step")]
        indexes = [models.Index(fields=["status", "due_at"]), models.Index(fields=["customer", "status"])]

    def __str__(self) -> str:
        if self.kind == self.Kind.STEP:
            label = gettext("step %(step)s") % {"step": self.step}
        else:
            label = gettext("expiry reminder")
        return f"{self.quote.number} {label} ({self.get_status_display()})"


class StaffTask(TenantOwned):
    """Something a person has to do: the agents open these where automation should stop."""

    class Kind(models.TextChoices):
        REENGAGE = "reengage", _("Re-engage outside WhatsApp's window")
        PAYMENT_OVERDUE = "payment_overdue", _("Invoice overdue past the last reminder")
        PAYMENT_CLAIMED = "payment_claimed", _("Confirm a payment the customer reported")
        ORDER_MISSING = "order_missing", _("Accepted quote without an order")
        SEND_FAILED = "send_failed", _("A message could not be sent")
        HANDOFF = "handoff", _("A customer needs a person")
        APPROVAL = "approval", _("A workflow waits for a decision")
        WORKFLOW = "workflow", _("A workflow asks for it")
        SCHEDULE_DELIVERY = "schedule_delivery", _("A paid order: schedule its delivery")
        SYNC_HELD = "sync_held", _("A price list sheet waits for approval")
        MARKET_QUESTION = "market_question", _("A marketplace buyer asked what the agents cannot answer")
        ALERT = "alert", _("An operations alert")

    class Status(models.TextChoices):
        OPEN = "open", pgettext_lazy("staff task status", "Open")
        DONE = "done", pgettext_lazy("staff task status", "Done")

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    title = models.CharField(_("title"), max_length=200)
    detail = models.TextField(_("detail"), blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.CASCADE, related_name="+", verbose_name=_("customer")
    )
    conversation = models.ForeignKey(
        Conversation,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("conversation"),
    )
    quote = models.ForeignKey(
        Quote, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("quote")
    )
    invoice = models.ForeignKey(
        "Invoice", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("invoice")
    )
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("message")
    )
    dedupe_key = models.CharField(
        _("dedupe key"), max_length=120, help_text=_("One task per key: an agent that runs twice opens one.")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("assigned to"),
        help_text=_("The staff member who takes care of it."),
    )
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("done by"),
    )

    class Meta:
        verbose_name = _("staff task")
        verbose_name_plural = _("staff tasks")
        ordering = ["status", "-created_at"]
        constraints = [models.UniqueConstraint(fields=["tenant", "dedupe_key"], name="staff_task_once_per_key")]
        indexes = [models.Index(fields=["tenant", "status"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.title}"


class Invoice(TenantOwned):
    class Currency(models.TextChoices):
        USD = "USD", "USD"
        UYU = "UYU", "UYU"

    class Status(models.TextChoices):
        OPEN = "open", pgettext_lazy("invoice status", "Open")
        PAYMENT_CLAIMED = (
            "payment_claimed",
            pgettext_lazy("invoice status", "Payment claimed"),
        )  # the customer says they paid
        PAID = "paid", pgettext_lazy("invoice status", "Paid")
        CANCELLED = "cancelled", pgettext_lazy("invoice status", "Cancelled")

    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="invoices", verbose_name=_("customer")
    )
    number = models.CharField(_("number"), max_length=40)
    amount = models.DecimalField(
        _("amount"), max_digits=12, decimal_places=2, validators=[MinValueValidator(Decimal("0.01"))]
    )
    currency = models.CharField(_("currency"), max_length=3, choices=Currency.choices, default=Currency.USD)
    issue_date = models.DateField(_("issue date"))
    due_date = models.DateField(_("due date"))
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.OPEN)
    amount_paid = models.DecimalField(
        _("amount paid"),
        max_digits=12,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
    )
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    claimed_at = models.DateTimeField(
        pgettext_lazy("invoice", "claimed at"), null=True, blank=True, help_text=_("When the customer said they paid.")
    )
    receipt = models.ForeignKey(
        Message,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("receipt"),
        help_text=_("Receipt they sent."),
    )
    notes = models.TextField(_("notes"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = TouchingQuerySet.as_manager()

    class Meta:
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")
        ordering = ["due_date", "id"]
        constraints = [models.UniqueConstraint(fields=["tenant", "number"], name="invoice_number_unique_per_tenant")]
        indexes = [models.Index(fields=["tenant", "status", "due_date"])]

    def __str__(self) -> str:
        return gettext("Invoice %(number)s (%(amount)s %(currency)s)") % {
            "number": self.number,
            "amount": number_format(self.amount, 2),
            "currency": self.currency,
        }

    def clean(self) -> None:
        errors = {}
        if self.issue_date and self.due_date and self.due_date < self.issue_date:
            errors["due_date"] = gettext("%(due_date)s is before the issue date %(issue_date)s.") % {
                "due_date": self.due_date,
                "issue_date": self.issue_date,
            }
        if self.amount is not None and self.amount_paid is not None and self.amount_paid > self.amount:
            errors["amount_paid"] = gettext("%(amount_paid)s is more than the invoice amount %(amount)s.") % {
                "amount_paid": self.amount_paid,
                "amount": self.amount,
            }
        if errors:
            raise ValidationError(errors)

    @property
    def balance(self) -> Decimal:
        return self.amount - self.amount_paid

    def days_overdue(self, today: date) -> int:
        return max(0, (today - self.due_date).days)


class PaymentPromise(TenantOwned):
    """The customer said when they will pay; the agent checks the day after."""

    class Status(models.TextChoices):
        OPEN = "open", pgettext_lazy("payment promise status", "Open")
        KEPT = "kept", pgettext_lazy("payment promise status", "Kept")
        BROKEN = "broken", pgettext_lazy("payment promise status", "Broken (reminded)")

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="promises", verbose_name=_("invoice"))
    promised_date = models.DateField(_("promised date"))
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("message")
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)
    checked_at = models.DateTimeField(_("checked at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("payment promise")
        verbose_name_plural = _("payment promises")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return gettext("%(invoice)s: promised for %(date)s") % {
            "invoice": self.invoice.number,
            "date": date_format(self.promised_date, "SHORT_DATE_FORMAT"),
        }


class DunningNotice(TenantOwned):
    """One reminder (or escalation) about an invoice, written before it is sent: a scan that
    runs twice on the same day finds it and sends nothing more."""

    class Kind(models.TextChoices):
        SOFT = "soft", _("First, soft reminder")
        FIRM = "firm", _("Firmer reminder")
        PROMISE_CHECK = "promise_check", _("Promise not kept")
        STAFF = "staff", _("Handed to staff")

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="notices", verbose_name=_("invoice"))
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    local_date = models.DateField(_("local date"), help_text=_("The tenant's date of the scan that decided it."))
    days_overdue = models.PositiveIntegerField(_("days overdue"), default=0)
    message = models.OneToOneField(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("message")
    )
    staff_task = models.ForeignKey(
        StaffTask, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("staff task")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("dunning notice")
        verbose_name_plural = _("dunning notices")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "local_date"], name="dunning_one_notice_per_invoice_per_day")
        ]

    def __str__(self) -> str:
        return gettext("%(invoice)s: %(kind)s on %(date)s") % {
            "invoice": self.invoice.number,
            "kind": self.get_kind_display(),
            "date": date_format(self.local_date, "SHORT_DATE_FORMAT"),
        }
