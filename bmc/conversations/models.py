"""Conversations: the customers who write, their conversations with the bot and with staff, every
message in and out, and every inbound body as it came (stored before it is read)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from bmc.core.models import TenantOwned, TouchingQuerySet, e164_validator


class Zone(models.TextChoices):
    MONTEVIDEO = "MONTEVIDEO", _("Montevideo")
    CANELONES = "CANELONES", _("Canelones")
    MALDONADO = "MALDONADO", _("Maldonado")
    INTERIOR = "INTERIOR", _("Interior")


class Customer(TenantOwned):
    phone = models.CharField(
        _("phone"), max_length=16, validators=[e164_validator], help_text=_("E.164, e.g. +59899123456")
    )
    name = models.CharField(_("name"), max_length=200, blank=True)
    email = models.EmailField(_("email"), blank=True)
    zone = models.CharField(_("zone"), max_length=20, choices=Zone.choices, blank=True)
    opted_out = models.BooleanField(
        _("opted out"), default=False, help_text=_("Asked not to be contacted: nothing is sent.")
    )
    opted_out_at = models.DateTimeField(_("opted out at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = TouchingQuerySet.as_manager()

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        db_table = "core_customer"  # moved from bmc.core, its table kept
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "phone"], name="customer_phone_unique_per_tenant"),
        ]

    def __str__(self) -> str:
        return f"{self.name or gettext('Customer')} ({self.phone})"


class Channel(models.TextChoices):
    WHATSAPP = "whatsapp", _("WhatsApp")
    N8N = "n8n", _("n8n")
    LOG = "log", pgettext_lazy("channel", "Log")
    EMAIL = "email", pgettext_lazy("channel", "Email")
    ADMIN = "admin", pgettext_lazy("channel", "Admin")


class Conversation(TenantOwned):
    class State(models.TextChoices):
        OPEN = "open", pgettext_lazy("conversation state", "Open")
        WAITING_CUSTOMER = "waiting_customer", pgettext_lazy("conversation state", "Waiting for customer")
        HANDOFF = "handoff", pgettext_lazy("conversation state", "With staff")
        CLOSED = "closed", pgettext_lazy("conversation state", "Closed")

    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="conversations", verbose_name=_("customer")
    )
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices, default=Channel.WHATSAPP)
    state = models.CharField(_("state"), max_length=20, choices=State.choices, default=State.OPEN)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("assigned to"),
    )
    dialogue = models.JSONField(
        _("dialogue"), default=dict, blank=True, help_text=_("Dialogue state: pending spec, last intent.")
    )
    last_message_at = models.DateTimeField(_("last message at"), null=True, blank=True)
    # Which worker is answering the conversation now: one turn at a time, messages that arrive
    # meanwhile join it (see agents/conversations/turn.py).
    turn_owner = models.CharField(_("turn owner"), max_length=64, blank=True)
    turn_started_at = models.DateTimeField(_("turn started at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("conversation")
        verbose_name_plural = _("conversations")
        ordering = ["-last_message_at", "-created_at"]
        db_table = "core_conversation"  # moved from bmc.core: its table and indexes kept
        indexes = [models.Index(fields=["tenant", "state"], name="core_conver_tenant__420c0f_idx")]

    def __str__(self) -> str:
        return gettext("Conversation %(id)s with %(customer)s") % {"id": self.pk, "customer": self.customer}


class Message(TenantOwned):
    class Direction(models.TextChoices):
        INBOUND = "in", pgettext_lazy("message direction", "Inbound")
        OUTBOUND = "out", pgettext_lazy("message direction", "Outbound")

    class DeliveryStatus(models.TextChoices):
        RECEIVED = "received", pgettext_lazy("message delivery", "Received")
        PENDING = "pending", pgettext_lazy("message delivery", "Pending")
        SENDING = "sending", pgettext_lazy("message delivery", "Sending")
        SENT = "sent", pgettext_lazy("message delivery", "Sent")
        DELIVERED = "delivered", pgettext_lazy("message delivery", "Delivered")
        READ = "read", pgettext_lazy("message delivery", "Read")
        FAILED = "failed", pgettext_lazy("message delivery", "Failed")
        # withdrawn before sending: the customer wrote first
        CANCELLED = "cancelled", pgettext_lazy("message delivery", "Cancelled")

    class Origin(models.TextChoices):
        """Why an outbound message was written: a reply, or the agents' own initiative (whose agent
        checks it once more just before it goes: outbound's send guards)."""

        REPLY = "", pgettext_lazy("message origin", "Reply")
        FOLLOWUP = "followup", pgettext_lazy("message origin", "Follow-up")
        DUNNING = "dunning", pgettext_lazy("message origin", "Payment reminder")

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages", verbose_name=_("conversation")
    )
    direction = models.CharField(_("direction"), max_length=3, choices=Direction.choices)
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices)
    external_id = models.CharField(
        _("external id"), max_length=200, null=True, blank=True, help_text=_("The provider's message id.")
    )
    raw_payload = models.JSONField(
        _("raw payload"), default=dict, blank=True, help_text=_("The payload as received, kept verbatim.")
    )
    text = models.TextField(_("text"), blank=True)
    intent = models.CharField(_("intent"), max_length=40, blank=True)
    entities = models.JSONField(_("entities"), default=dict, blank=True)
    delivery_status = models.CharField(
        _("delivery status"), max_length=20, choices=DeliveryStatus.choices, default=DeliveryStatus.RECEIVED
    )
    error_code = models.CharField(_("error code"), max_length=40, blank=True)
    sent_at = models.DateTimeField(
        _("sent at"), null=True, blank=True, help_text=_("When the customer or the channel sent it.")
    )
    processed_at = models.DateTimeField(
        _("processed at"), null=True, blank=True, help_text=_("Inbound: when a turn answered it.")
    )
    idempotency_key = models.CharField(
        _("idempotency key"),
        max_length=80,
        null=True,
        blank=True,
        unique=True,
        help_text=_("Outbound: one send per key."),
    )
    send_attempts = models.PositiveSmallIntegerField(_("send attempts"), default=0)
    origin = models.CharField(_("origin"), max_length=20, choices=Origin.choices, blank=True, default=Origin.REPLY)
    origin_id = models.BigIntegerField(
        _("origin id"), null=True, blank=True, help_text=_("The follow-up's or the reminder's id.")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "channel", "external_id"],
                condition=models.Q(external_id__isnull=False),
                name="message_external_id_unique_per_tenant_channel",
            ),
        ]
        db_table = "core_message"  # moved from bmc.core: its table and indexes kept
        indexes = [models.Index(fields=["conversation", "created_at"], name="core_messag_convers_d2b392_idx")]

    def __str__(self) -> str:
        return gettext("%(direction)s %(channel)s message %(id)s") % {
            "direction": self.get_direction_display(),
            "channel": self.channel,
            "id": self.pk,
        }


class InboundPayload(TenantOwned):
    """Every inbound request body, stored verbatim before it is parsed: bad input loses nothing."""

    class Source(models.TextChoices):
        N8N = "n8n", _("n8n")
        WHATSAPP = "whatsapp", _("WhatsApp webhook")
        CHAT = "chat", _("Chat API")
        MERCADOPAGO = "mercadopago", _("Mercado Pago notification")
        SHOPIFY = "shopify", _("Shopify webhook")

    class Outcome(models.TextChoices):
        RECEIVED = "received", pgettext_lazy("inbound outcome", "Received")
        ACCEPTED = "accepted", pgettext_lazy("inbound outcome", "Accepted")
        DUPLICATE = "duplicate", pgettext_lazy("inbound outcome", "Duplicate")
        REJECTED = "rejected", pgettext_lazy("inbound outcome", "Rejected")
        IGNORED = (
            "ignored",
            pgettext_lazy(
                "inbound outcome", "Ignored (nothing here it is for: another phone number, an unknown payment)"
            ),
        )

    source = models.CharField(_("source"), max_length=20, choices=Source.choices)
    body = models.TextField(
        _("body"),
        help_text=_(
            "The raw request body; of a delivery refused for its signature, only its first "
            "AUDIT_BODY_BYTES (size and hash say what the rest was)."
        ),
    )
    signature = models.CharField(_("signature"), max_length=200, blank=True)
    outcome = models.CharField(_("outcome"), max_length=20, choices=Outcome.choices, default=Outcome.RECEIVED)
    error = models.TextField(_("error"), blank=True)
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)
    # what an audit of a refused delivery needs, without keeping what an attacker sent whole
    size = models.PositiveIntegerField(_("size"), null=True, blank=True, help_text=_("Bytes of the body as received."))
    sha256 = models.CharField(_("SHA-256"), max_length=64, blank=True, help_text=_("SHA-256 of the body as received."))
    headers = models.JSONField(
        _("headers"), default=dict, blank=True, help_text=_("Request headers (refused deliveries).")
    )
    source_address = models.GenericIPAddressField(_("source address"), null=True, blank=True)
    truncated = models.BooleanField(_("truncated"), default=False, help_text=_("Only the start of the body was kept."))

    class Meta:
        verbose_name = _("inbound payload")
        verbose_name_plural = _("inbound payloads")
        ordering = ["-received_at"]
        db_table = "core_inboundpayload"  # moved from bmc.core: its table and indexes kept
        indexes = [
            models.Index(fields=["tenant", "-received_at"], name="core_inboun_tenant__349eeb_idx"),
            models.Index(fields=["source_address", "outcome", "received_at"], name="inbound_refused_by_address"),
        ]

    def __str__(self) -> str:
        return gettext("%(source)s payload %(id)s (%(outcome)s)") % {
            "source": self.source,
            "id": self.pk,
            "outcome": self.outcome,
        }


class CustomerErasure(TenantOwned):
    """A customer's personal data erased on request: who asked for it, when, and how many records
    each kind lost their personal fields, never what they said. The customer's row stays (quotes,
    orders and invoices point at it), without name, phone or e-mail."""

    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="erasures", verbose_name=_("customer")
    )
    erased_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("erased by"),
    )
    via = models.CharField(_("via"), max_length=80, help_text=_("The admin, or the management command."))
    counts = models.JSONField(_("counts"), default=dict, blank=True, help_text=_("Records changed, by kind."))
    erased_at = models.DateTimeField(_("erased at"), auto_now_add=True)

    class Meta:
        verbose_name = _("customer data erasure")
        verbose_name_plural = _("customer data erasures")
        ordering = ["-erased_at"]

    def __str__(self) -> str:
        return gettext("Customer %(id)s erased") % {"id": self.customer_id}
