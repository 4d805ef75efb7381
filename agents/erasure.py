"""A customer's personal data erased on request (the admin's action, `manage.py erase_customer`).

The rows that totals and audits need stay: the customer's row (quotes, orders and invoices point
at it), its conversations and messages (counted, dated, with their intents), quotes, orders,
invoices and payments with their amounts, task records. What goes is what says who the person is
or what they said: name, phone (a placeholder that is no number, unique as the phone was),
e-mail, message texts, raw payloads, documents they sent or that mention them, and every mention
of their phone or e-mail anywhere in the company's records (a task's payload, a staff task's
title, an admin log line). Their name is removed where it is about them: in the records linked to
them, and in those that mention their phone or e-mail (a name alone may be someone else's).

The erasure itself is recorded (CustomerErasure: who, when, which customer, counts per kind).
Erasing again finds the customer already erased and changes nothing.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from typing import Any

import phonenumbers
from django.apps import apps
from django.db import models, transaction
from django.db.models import Q
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.translation import gettext

from agents.sales.followup import followups_stop
from bmc.conversations.models import Conversation, Customer, CustomerErasure, InboundPayload, Message
from bmc.core.models import Tenant
from bmc.core.search import PHONE_REGION, phone_e164
from bmc.datasync.models import MarketQuestion
from bmc.documents.models import Document, DocumentBlob
from bmc.orders.models import Order
from bmc.payments.models import Payment

logger = logging.getLogger(__name__)

ERASED_PREFIX = "erased-"
# What a customer's message keeps of its raw payload: what the agents read later (its kind, the
# messages a reply answers, the quote PDF's link, an opt-out's confirmation), never who sent it.
MESSAGE_RAW_KEPT = ("type", "answers", "document_url", "opt_out_confirmation")
# Verbatim copies of what came in: blanked whole when they mention the customer, not patched.
RAW_FIELDS = {
    InboundPayload: ("body",),
    Payment: ("raw",),
    MarketQuestion: ("raw",),
}
# Handled on their own above the sweep: the customer (its placeholder), what records the erasure,
# file bytes (not text: a document that carried them is found by its text).
NOT_SWEPT = (Customer, CustomerErasure, DocumentBlob)


class CustomerNotFound(LookupError):
    """No customer by that phone or id (in that company)."""


def customer_find(*, reference: str, tenant: Tenant | None = None) -> Customer:
    """A customer by phone (as staff write it: +59899123456, 099 123 456) or by id."""
    rows = Customer.objects.all() if tenant is None else Customer.objects.filter(tenant=tenant)
    text = reference.strip()
    phone = phone_e164(text)
    if phone:
        found = list(rows.filter(phone=phone)[:2])
        if len(found) > 1:
            raise CustomerNotFound(f"{phone} is a customer of several companies: name one with --tenant")
    elif text.isdigit():
        found = list(rows.filter(pk=int(text)))
    else:
        raise CustomerNotFound(f"{reference!r} is neither a phone number nor a customer id")
    if not found:
        raise CustomerNotFound(f"no customer {reference!r}" + (f" in {tenant.slug}" if tenant else ""))
    return found[0]


def customer_is_erased(customer: Customer) -> bool:
    return customer.phone.startswith(ERASED_PREFIX)


def customer_erase(*, customer: Customer, via: str, erased_by: Any = None) -> CustomerErasure:
    """Erase the customer's personal data, in one transaction; the erasure's record. Already
    erased: the first erasure's record, nothing changed."""
    with transaction.atomic():
        customer = Customer.objects.select_for_update().get(pk=customer.pk)
        if customer_is_erased(customer):
            previous = customer.erasures.order_by("erased_at").first()
            if previous is not None:
                return previous
        counts = _personal_data_erase(customer)
        record = CustomerErasure.objects.create(
            tenant_id=customer.tenant_id, customer=customer, erased_by=erased_by, via=via[:80], counts=counts
        )
    logger.warning(
        "customer data erased",
        extra={"tenant": customer.tenant_id, "customer_id": customer.pk, "via": via, "counts": counts},
    )
    return record


def _personal_data_erase(customer: Customer) -> dict[str, int]:
    placeholder = f"{ERASED_PREFIX}{customer.pk}"
    identifiers = _identifiers(customer)
    names = [customer.name.strip()] if len(customer.name.strip()) >= 2 else []
    conversation_ids = list(Conversation.objects.filter(customer=customer).values_list("pk", flat=True))
    message_ids = list(Message.objects.filter(conversation_id__in=conversation_ids).values_list("pk", flat=True))
    counts: Counter[str] = Counter()

    counts["conversations"] = Conversation.objects.filter(pk__in=conversation_ids).update(dialogue={})
    counts["messages"] = _messages_erase(message_ids)
    counts["followups_stopped"] = followups_stop(
        customer_id=customer.pk, reason=gettext("the customer's data was erased")
    )
    counts["documents"], counts["document_blobs"] = _documents_erase(
        tenant_id=customer.tenant_id, message_ids=message_ids, identifiers=identifiers
    )
    counts["orders"] = Order.objects.filter(customer=customer).exclude(buyer="").update(buyer="")
    counts["payments"] = Payment.objects.filter(order__customer=customer).exclude(raw={}).update(raw={})

    linked = {Customer: [customer.pk], Conversation: conversation_ids, Message: message_ids}
    for model in apps.get_models():
        if model in NOT_SWEPT or model._meta.proxy or not model._meta.managed:
            continue
        changed = _mentions_erase(
            model,
            tenant_id=customer.tenant_id,
            identifiers=identifiers,
            names=names,
            linked=linked,
            placeholder=placeholder,
        )
        if changed:
            counts[model._meta.label_lower] += changed

    Customer.objects.filter(pk=customer.pk).update(
        phone=placeholder,
        name="",
        email="",
        opted_out=True,  # nothing is sent to a number we no longer have
        opted_out_at=customer.opted_out_at or timezone.now(),
    )
    counts["customer"] = 1
    return {kind: count for kind, count in sorted(counts.items()) if count}


def _identifiers(customer: Customer) -> list[str]:
    """What identifies the customer wherever it is written: the phone as stored, its digits (as
    WhatsApp writes it), the local ways of writing it (099123456, 099 123 456); the e-mail."""
    forms = {customer.phone, customer.phone.lstrip("+")}
    try:
        number = phonenumbers.parse(customer.phone, PHONE_REGION)
        national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
        forms |= {national, re.sub(r"\D", "", national)}
    except phonenumbers.NumberParseException:
        pass
    if customer.email:
        forms.add(customer.email)
    return sorted((form for form in forms if len(form) >= 6), key=len, reverse=True)


def _messages_erase(message_ids: list[int]) -> int:
    """Texts, what was read from them, raw payloads (but what the agents read later) and the
    provider's ids (WhatsApp's encode the phone) of the customer's messages, in both directions."""
    changed = 0
    for start in range(0, len(message_ids), 500):
        chunk = message_ids[start : start + 500]
        for message in Message.objects.filter(pk__in=chunk).only("pk", "raw_payload"):
            raw = message.raw_payload if isinstance(message.raw_payload, dict) else {}
            kept = {key: raw[key] for key in MESSAGE_RAW_KEPT if key in raw}
            if kept != raw:
                Message.objects.filter(pk=message.pk).update(raw_payload=kept)
        changed += Message.objects.filter(pk__in=chunk).update(text="", entities={}, external_id=None)
    return changed


def _documents_erase(*, tenant_id: int, message_ids: list[int], identifiers: list[str]) -> tuple[int, int]:
    """Documents the customer sent, or whose text mentions their phone or e-mail: their text, what
    was read from them, their name and their file; the file's bytes too once no other document
    has them. The row stays, counted in its batch."""
    mentions = Q()
    for identifier in identifiers:
        mentions |= Q(text__icontains=identifier) | Q(filename__icontains=identifier)
    documents = Document.objects.filter(tenant_id=tenant_id).filter(Q(message_id__in=message_ids) | mentions)
    blob_ids = set(documents.exclude(blob=None).values_list("blob_id", flat=True))
    changed = 0
    for document in documents.only("pk"):
        changed += Document.objects.filter(pk=document.pk).update(
            filename=f"{ERASED_PREFIX}{document.pk}", text="", fields={}, checks=[], blob=None, review_reason=""
        )
    blobs = DocumentBlob.objects.filter(pk__in=blob_ids).exclude(documents__isnull=False)
    return changed, blobs.delete()[1].get(DocumentBlob._meta.label, 0)


def _text_fields(model) -> list[models.Field]:
    return [
        field
        for field in model._meta.concrete_fields
        if isinstance(field, (models.CharField, models.TextField, models.JSONField))
        and not field.primary_key
        and not field.choices
    ]


def _contains(fields: list[models.Field], needles: list[str]) -> Q:
    """Any of the fields holds any of the needles. A JSON field is searched as its text; where the
    database keeps JSON with its non-ASCII escaped (SQLite), as escaped too."""
    found = Q()
    for field in fields:
        lookup = f"_erasure_{field.name}" if isinstance(field, models.JSONField) else field.name
        for needle in needles:
            found |= Q(**{f"{lookup}__icontains": needle})
            escaped = json.dumps(needle)[1:-1]
            if isinstance(field, models.JSONField) and escaped != needle:
                found |= Q(**{f"{lookup}__icontains": escaped})
    return found


def _mentions_erase(
    model,
    *,
    tenant_id: int,
    identifiers: list[str],
    names: list[str],
    linked: dict[type, list[int]],
    placeholder: str,
) -> int:
    """In one model: rows that mention the customer's phone or e-mail, and rows linked to them
    (their customer, conversations or messages) that mention their name, with each mention
    replaced by the placeholder; a verbatim copy (RAW_FIELDS) that mentions them is blanked."""
    fields = _text_fields(model)
    if not fields or not identifiers:
        return 0
    rows = model._base_manager.all()
    if any(field.name == "tenant" for field in model._meta.concrete_fields):
        rows = rows.filter(tenant_id=tenant_id)  # another company's records are its own business
    rows = rows.annotate(
        **{
            f"_erasure_{field.name}": Cast(field.name, models.TextField())
            for field in fields
            if isinstance(field, models.JSONField)
        }
    )
    link = Q()
    for field in model._meta.concrete_fields:
        if isinstance(field, models.ForeignKey) and field.related_model in linked and linked[field.related_model]:
            link |= Q(**{f"{field.attname}__in": linked[field.related_model]})
    wanted = _contains(fields, identifiers)
    if names and link:
        wanted |= link & _contains(fields, names)
    # a name only as a whole word: "Ana" is no part of "Canaleta"
    pattern = re.compile(
        "|".join([*(re.escape(needle) for needle in identifiers), *(rf"(?<!\w){re.escape(n)}(?!\w)" for n in names)]),
        re.IGNORECASE,
    )
    raw_fields = RAW_FIELDS.get(model, ())
    changed = 0
    for row in rows.filter(wanted).only("pk", *(field.name for field in fields)).iterator(chunk_size=500):
        update: dict[str, Any] = {}
        for field in fields:
            value = getattr(row, field.name)
            if field.name in raw_fields:
                blank = field.get_default()
                if value != blank and pattern.search(json.dumps(value, ensure_ascii=False)):
                    update[field.name] = blank
                continue
            replaced = _replaced(value, pattern, placeholder)
            if replaced != value:
                if isinstance(replaced, str) and field.max_length:
                    replaced = replaced[: field.max_length]
                update[field.name] = replaced
        if update:
            changed += model._base_manager.filter(pk=row.pk).update(**update)
    return changed


def _replaced(value: Any, pattern: re.Pattern, placeholder: str) -> Any:
    if isinstance(value, str):
        return pattern.sub(placeholder, value)
    if isinstance(value, list):
        return [_replaced(item, pattern, placeholder) for item in value]
    if isinstance(value, dict):
        return {
            _replaced(key, pattern, placeholder): _replaced(item, pattern, placeholder) for key, item in value.items()
        }
    return value
