"""Tasks for staff: where an agent should stop and a person take over.

What an agent writes for staff to read in the admin (a task's title, a refused row's reason, a
document's review reason...) is English in the code and Spanish in agents/locale (gettext), in
the language staff read: settings.LANGUAGE_CODE, the worker's. An agent run by an API request
(which speaks English) writes such texts inside `staff_language()`."""

from __future__ import annotations

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Model
from django.utils import translation
from django.utils.text import capfirst

from bmc.sales.models import StaffTask


def staff_language() -> translation.override:
    """`with staff_language():` what is written inside is in the language staff read, whatever
    language the request that runs it speaks."""
    return translation.override(settings.LANGUAGE_CODE)


def admin_place(model: type[Model]) -> str:
    """Where a model's list is in the admin, as its menu names it ("Data sync > Market questions"),
    in the active language."""
    return f"{capfirst(model._meta.app_config.verbose_name)} > {capfirst(model._meta.verbose_name_plural)}"


def staff_task_open(*, tenant_id: int, kind: str, dedupe_key: str, title: str, detail: str = "", **links) -> StaffTask:
    """Open a task once per `dedupe_key`: an agent that runs twice finds the first one.
    links: customer_id, conversation_id, quote_id, invoice_id, message_id."""
    existing = StaffTask.objects.filter(tenant_id=tenant_id, dedupe_key=dedupe_key).first()
    if existing:
        return existing
    try:
        with transaction.atomic():
            return StaffTask.objects.create(
                tenant_id=tenant_id, kind=kind, dedupe_key=dedupe_key[:120], title=title[:200], detail=detail, **links
            )
    except IntegrityError:  # opened by a concurrent run a moment ago
        return StaffTask.objects.get(tenant_id=tenant_id, dedupe_key=dedupe_key[:120])
