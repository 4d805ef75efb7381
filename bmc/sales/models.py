"""Follow-ups of quotes, collections (dunning) and the tasks they leave for staff."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models

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

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="followup_policy")
    enabled = models.BooleanField(default=True, help_text="Follow up quotes sent without an answer.")
    steps_hours = models.JSONField(
        default=_default_steps, help_text="Hours after the quote is sent, in increasing order, e.g. [24, 48, 72]."
    )
    max_attempts = models.PositiveSmallIntegerField(default=3, help_text="At most this many follow-ups per quote.")
    quiet_start = models.TimeField(
        null=True, blank=True, default=DEFAULT_QUIET_START, help_text="No sends from this local time..."
    )
    quiet_end = models.TimeField(null=True, blank=True, default=DEFAULT_QUIET_END, help_text="...until this one.")
    quiet_weekdays = models.JSONField(
        default=_default_quiet_weekdays, blank=True, help_text="Days without sends: 0 Monday ... 6 Sunday."
    )
    timezone = models.CharField(max_length=60, default=DEFAULT_TIMEZONE)
    rewrite_with_model = models.BooleanField(
        default=False, help_text="Let the language model reword each message (numbers are checked to stay the same)."
    )
    whatsapp_template = models.CharField(
        max_length=100,
        default="seguimiento_cotizacion",
        blank=True,
        help_text="Approved WhatsApp template sent instead when the 24-hour window is closed.",
    )
    whatsapp_template_language = models.CharField(max_length=10, default="es")
    expiry_reminder = models.BooleanField(default=True, help_text="Remind the day before a quote expires.")
    order_wait_days = models.PositiveSmallIntegerField(
        default=3, help_text="An accepted quote with no order after this many days becomes a staff task."
    )
    dunning_enabled = models.BooleanField(default=True, help_text="Remind customers of overdue invoices.")
    dunning_firm_after_days = models.PositiveSmallIntegerField(default=15)
    dunning_staff_after_days = models.PositiveSmallIntegerField(default=30)
    dunning_repeat_days = models.PositiveSmallIntegerField(
        default=7, help_text="Days between two reminders of the same invoice."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "follow-up policy"
        verbose_name_plural = "follow-up policies"

    def __str__(self) -> str:
        return f"Follow-up policy of {self.tenant}"

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
            errors["dunning_staff_after_days"] = (
                f"must be later than the firm reminder ({self.dunning_firm_after_days} days)."
            )
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
        STEP = "step", "Follow-up step"
        EXPIRY = "expiry", "Expiry reminder"

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        QUEUED = "queued", "Queued"  # claimed by a scan; its message is on its way
        SENT = "sent", "Sent"
        CANCELLED = "cancelled", "Cancelled"
        SKIPPED = "skipped", "Skipped"  # a later step was due too: only the later one went
        FAILED = "failed", "Failed"

    OPEN = (Status.SCHEDULED, Status.QUEUED)

    quote = models.ForeignKey(Quote, on_delete=models.CASCADE, related_name="followups")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="followups")
    conversation = models.ForeignKey(Conversation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.STEP)
    step = models.PositiveSmallIntegerField(default=1)
    due_at = models.DateTimeField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.SCHEDULED)
    reason = models.CharField(max_length=200, blank=True, help_text="Why it was cancelled, skipped or failed.")
    message = models.OneToOneField(Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="followup")
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["due_at", "id"]
        constraints = [models.UniqueConstraint(fields=["quote", "kind", "step"], name="followup_once_per_step")]
        indexes = [models.Index(fields=["status", "due_at"]), models.Index(fields=["customer", "status"])]

    def __str__(self) -> str:
        label = f"step {self.step}" if self.kind == self.Kind.STEP else "expiry reminder"
        return f"{self.quote.number} {label} ({self.status})"


class StaffTask(TenantOwned):
    """Something a person has to do: the agents open these where automation should stop."""

    class Kind(models.TextChoices):
        REENGAGE = "reengage", "Re-engage outside WhatsApp's window"
        PAYMENT_OVERDUE = "payment_overdue", "Invoice overdue past the last reminder"
        PAYMENT_CLAIMED = "payment_claimed", "Confirm a payment the customer reported"
        ORDER_MISSING = "order_missing", "Accepted quote without an order"
        SEND_FAILED = "send_failed", "A message could not be sent"
        HANDOFF = "handoff", "A customer needs a person"
        APPROVAL = "approval", "A workflow waits for a decision"
        WORKFLOW = "workflow", "A workflow asks for it"
        SCHEDULE_DELIVERY = "schedule_delivery", "A paid order: schedule its delivery"
        SYNC_HELD = "sync_held", "A price list sheet waits for approval"
        MARKET_QUESTION = "market_question", "A marketplace buyer asked what the agents cannot answer"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        DONE = "done", "Done"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    title = models.CharField(max_length=200)
    detail = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    customer = models.ForeignKey(Customer, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(Conversation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    quote = models.ForeignKey(Quote, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    invoice = models.ForeignKey("Invoice", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    dedupe_key = models.CharField(max_length=120, help_text="One task per key: an agent that runs twice opens one.")
    created_at = models.DateTimeField(auto_now_add=True)
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
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
        OPEN = "open", "Open"
        PAYMENT_CLAIMED = "payment_claimed", "Payment claimed"  # the customer says they paid
        PAID = "paid", "Paid"
        CANCELLED = "cancelled", "Cancelled"

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="invoices")
    number = models.CharField(max_length=40)
    amount = models.DecimalField(max_digits=12, decimal_places=2, validators=[MinValueValidator(Decimal("0.01"))])
    currency = models.CharField(max_length=3, choices=Currency.choices, default=Currency.USD)
    issue_date = models.DateField()
    due_date = models.DateField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    amount_paid = models.DecimalField(
        max_digits=12, decimal_places=2, default=Decimal("0"), validators=[MinValueValidator(Decimal("0"))]
    )
    paid_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True, help_text="When the customer said they paid.")
    receipt = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", help_text="Receipt they sent."
    )
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TouchingQuerySet.as_manager()

    class Meta:
        ordering = ["due_date", "id"]
        constraints = [models.UniqueConstraint(fields=["tenant", "number"], name="invoice_number_unique_per_tenant")]
        indexes = [models.Index(fields=["tenant", "status", "due_date"])]

    def __str__(self) -> str:
        return f"Invoice {self.number} ({self.amount} {self.currency})"

    def clean(self) -> None:
        errors = {}
        if self.issue_date and self.due_date and self.due_date < self.issue_date:
            errors["due_date"] = f"{self.due_date} is before the issue date {self.issue_date}."
        if self.amount is not None and self.amount_paid is not None and self.amount_paid > self.amount:
            errors["amount_paid"] = f"{self.amount_paid} is more than the invoice amount {self.amount}."
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
        OPEN = "open", "Open"
        KEPT = "kept", "Kept"
        BROKEN = "broken", "Broken (reminded)"

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="promises")
    promised_date = models.DateField()
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    checked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.invoice.number}: promised for {self.promised_date}"


class DunningNotice(TenantOwned):
    """One reminder (or escalation) about an invoice, written before it is sent: a scan that
    runs twice on the same day finds it and sends nothing more."""

    class Kind(models.TextChoices):
        SOFT = "soft", "First, soft reminder"
        FIRM = "firm", "Firmer reminder"
        PROMISE_CHECK = "promise_check", "Promise not kept"
        STAFF = "staff", "Handed to staff"

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="notices")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    local_date = models.DateField(help_text="The tenant's date of the scan that decided it.")
    days_overdue = models.PositiveIntegerField(default=0)
    message = models.OneToOneField(Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    staff_task = models.ForeignKey(StaffTask, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "local_date"], name="dunning_one_notice_per_invoice_per_day")
        ]

    def __str__(self) -> str:
        return f"{self.invoice.number}: {self.get_kind_display()} on {self.local_date}"
