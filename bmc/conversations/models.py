"""Conversations: the customers who write, their conversations with the bot and with staff, every
message in and out, and every inbound body as it came (stored before it is read)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from bmc.core.models import TenantOwned, TouchingQuerySet, e164_validator


class Zone(models.TextChoices):
    MONTEVIDEO = "MONTEVIDEO", "Montevideo"
    CANELONES = "CANELONES", "Canelones"
    MALDONADO = "MALDONADO", "Maldonado"
    INTERIOR = "INTERIOR", "Interior"


class Customer(TenantOwned):
    phone = models.CharField(max_length=16, validators=[e164_validator], help_text="E.164, e.g. +59899123456")
    name = models.CharField(max_length=200, blank=True)
    email = models.EmailField(blank=True)
    zone = models.CharField(max_length=20, choices=Zone.choices, blank=True)
    opted_out = models.BooleanField(default=False, help_text="Asked not to be contacted: nothing is sent.")
    opted_out_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TouchingQuerySet.as_manager()

    class Meta:
        db_table = "core_customer"  # moved from bmc.core, its table kept
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "phone"], name="customer_phone_unique_per_tenant"),
        ]

    def __str__(self) -> str:
        return f"{self.name or 'Customer'} ({self.phone})"


class Channel(models.TextChoices):
    WHATSAPP = "whatsapp", "WhatsApp"
    N8N = "n8n", "n8n"
    LOG = "log", "Log"
    EMAIL = "email", "Email"
    ADMIN = "admin", "Admin"


class Conversation(TenantOwned):
    class State(models.TextChoices):
        OPEN = "open", "Open"
        WAITING_CUSTOMER = "waiting_customer", "Waiting for customer"
        HANDOFF = "handoff", "With staff"
        CLOSED = "closed", "Closed"

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="conversations")
    channel = models.CharField(max_length=20, choices=Channel.choices, default=Channel.WHATSAPP)
    state = models.CharField(max_length=20, choices=State.choices, default=State.OPEN)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    dialogue = models.JSONField(default=dict, blank=True, help_text="Dialogue state: pending spec, last intent.")
    last_message_at = models.DateTimeField(null=True, blank=True)
    # Which worker is answering the conversation now: one turn at a time, messages that arrive
    # meanwhile join it (see agents/conversations/turn.py).
    turn_owner = models.CharField(max_length=64, blank=True)
    turn_started_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-last_message_at", "-created_at"]
        db_table = "core_conversation"  # moved from bmc.core: its table and indexes kept
        indexes = [models.Index(fields=["tenant", "state"], name="core_conver_tenant__420c0f_idx")]

    def __str__(self) -> str:
        return f"Conversation {self.pk} with {self.customer}"


class Message(TenantOwned):
    class Direction(models.TextChoices):
        INBOUND = "in", "Inbound"
        OUTBOUND = "out", "Outbound"

    class DeliveryStatus(models.TextChoices):
        RECEIVED = "received", "Received"
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        DELIVERED = "delivered", "Delivered"
        READ = "read", "Read"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"  # withdrawn before sending: the customer wrote first

    class Origin(models.TextChoices):
        """Why an outbound message was written: a reply, or the agents' own initiative (whose agent
        checks it once more just before it goes: outbound's send guards)."""

        REPLY = "", "Reply"
        FOLLOWUP = "followup", "Follow-up"
        DUNNING = "dunning", "Payment reminder"

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    direction = models.CharField(max_length=3, choices=Direction.choices)
    channel = models.CharField(max_length=20, choices=Channel.choices)
    external_id = models.CharField(max_length=200, null=True, blank=True, help_text="The provider's message id.")
    raw_payload = models.JSONField(default=dict, blank=True, help_text="The payload as received, kept verbatim.")
    text = models.TextField(blank=True)
    intent = models.CharField(max_length=40, blank=True)
    entities = models.JSONField(default=dict, blank=True)
    delivery_status = models.CharField(max_length=20, choices=DeliveryStatus.choices, default=DeliveryStatus.RECEIVED)
    error_code = models.CharField(max_length=40, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True, help_text="When the customer or the channel sent it.")
    processed_at = models.DateTimeField(null=True, blank=True, help_text="Inbound: when a turn answered it.")
    idempotency_key = models.CharField(
        max_length=80, null=True, blank=True, unique=True, help_text="Outbound: one send per key."
    )
    send_attempts = models.PositiveSmallIntegerField(default=0)
    origin = models.CharField(max_length=20, choices=Origin.choices, blank=True, default=Origin.REPLY)
    origin_id = models.BigIntegerField(null=True, blank=True, help_text="The follow-up's or the reminder's id.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
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
        return f"{self.get_direction_display()} {self.channel} message {self.pk}"


class InboundPayload(TenantOwned):
    """Every inbound request body, stored verbatim before it is parsed: bad input loses nothing."""

    class Source(models.TextChoices):
        N8N = "n8n", "n8n"
        WHATSAPP = "whatsapp", "WhatsApp webhook"
        CHAT = "chat", "Chat API"
        MERCADOPAGO = "mercadopago", "Mercado Pago notification"
        SHOPIFY = "shopify", "Shopify webhook"

    class Outcome(models.TextChoices):
        RECEIVED = "received", "Received"
        ACCEPTED = "accepted", "Accepted"
        DUPLICATE = "duplicate", "Duplicate"
        REJECTED = "rejected", "Rejected"
        IGNORED = "ignored", "Ignored (nothing here it is for: another phone number, an unknown payment)"

    source = models.CharField(max_length=20, choices=Source.choices)
    body = models.TextField(
        help_text="The raw request body; of a delivery refused for its signature, only its first "
        "AUDIT_BODY_BYTES (size and hash say what the rest was)."
    )
    signature = models.CharField(max_length=200, blank=True)
    outcome = models.CharField(max_length=20, choices=Outcome.choices, default=Outcome.RECEIVED)
    error = models.TextField(blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    # what an audit of a refused delivery needs, without keeping what an attacker sent whole
    size = models.PositiveIntegerField(null=True, blank=True, help_text="Bytes of the body as received.")
    sha256 = models.CharField(max_length=64, blank=True, help_text="SHA-256 of the body as received.")
    headers = models.JSONField(default=dict, blank=True, help_text="Request headers (refused deliveries).")
    source_address = models.GenericIPAddressField(null=True, blank=True)
    truncated = models.BooleanField(default=False, help_text="Only the start of the body was kept.")

    class Meta:
        ordering = ["-received_at"]
        db_table = "core_inboundpayload"  # moved from bmc.core: its table and indexes kept
        indexes = [
            models.Index(fields=["tenant", "-received_at"], name="core_inboun_tenant__349eeb_idx"),
            models.Index(fields=["source_address", "outcome", "received_at"], name="inbound_refused_by_address"),
        ]

    def __str__(self) -> str:
        return f"{self.source} payload {self.pk} ({self.outcome})"
