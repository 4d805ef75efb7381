"""Set-up the system needs on every machine: the default tenant, its catalog, staff groups."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.db import transaction

from bmc.core.models import ApiKey, Tenant

# Sales staff work customers, conversations and messages; operations run the agents.
STAFF_GROUPS: dict[str, dict[str, tuple[str, ...]]] = {
    "sales": {
        "conversations.customer": ("view", "add", "change"),
        "conversations.conversation": ("view", "change"),
        "conversations.message": ("view", "add"),
        "quotes.product": ("view",),
        "quotes.catalogversion": ("view",),
        "quotes.quote": ("view", "change", "approve"),
        "quotes.quoteline": ("view",),
        "sales.followup": ("view",),
        "sales.followuppolicy": ("view",),
        "sales.stafftask": ("view", "change"),
        "sales.invoice": ("view", "add", "change"),
        "sales.paymentpromise": ("view",),
        "sales.dunningnotice": ("view",),
        # a run's timeline; "change" is deciding its approval steps
        "workflows.workflowrun": ("view", "change"),
        "workflows.workflowstep": ("view",),
        # orders: a transfer confirmed, a delivery date, delivered, cancelled
        "orders.order": ("view", "change"),
        "orders.orderline": ("view",),
        "payments.payment": ("view",),
        "inventory.stocklevel": ("view",),
        "inventory.warehouse": ("view",),
        # questions buyers asked on MercadoLibre that the agents left to a person: answered here
        "datasync.marketquestion": ("view", "change"),
    },
    "operations": {
        "core.tenant": ("view", "change"),
        "core.apikey": ("view", "add", "change"),
        "conversations.customer": ("view",),
        "conversations.conversation": ("view",),
        "conversations.message": ("view",),
        "quotes.product": ("view",),
        "quotes.catalogversion": ("view",),
        "jobs.agenttask": ("view", "change"),
        "jobs.agentmessage": ("view",),
        "quotes.quote": ("view",),
        "quotes.quoteline": ("view",),
        "django_celery_beat.periodictask": ("view", "add", "change", "delete"),
        "django_celery_beat.intervalschedule": ("view", "add", "change", "delete"),
        "django_celery_beat.crontabschedule": ("view", "add", "change", "delete"),
        "django_celery_beat.clockedschedule": ("view", "add", "change", "delete"),
        "django_celery_beat.solarschedule": ("view", "add", "change", "delete"),
        "sales.followuppolicy": ("view", "change"),
        "sales.followup": ("view",),
        "sales.stafftask": ("view", "change"),
        "sales.invoice": ("view",),
        # documents received: operations read the review queue
        "documents.documentbatch": ("view", "add"),
        "documents.document": ("view", "change"),
        "documents.documentcorrection": ("view",),
        # events and where they go; workflows, their versions and their runs
        "events.domainevent": ("view",),
        "events.eventsubscription": ("view", "add", "change", "delete"),
        "events.eventdelivery": ("view",),
        "workflows.workflowdefinition": ("view", "add"),
        "workflows.workflowrun": ("view", "change"),
        "workflows.workflowstep": ("view",),
        # stock: goods received, thresholds, warehouses; orders to deliver
        "inventory.warehouse": ("view", "add", "change"),
        "inventory.stocklevel": ("view", "add", "change"),
        "inventory.stockmove": ("view",),
        "orders.order": ("view", "change"),
        "orders.orderline": ("view",),
        "payments.payment": ("view",),
        # the data sync: runs and their refusals, a held price list to approve, a circuit to close
        "datasync.syncsource": ("view", "change"),
        "datasync.syncrun": ("view", "change"),
        "datasync.synclink": ("view",),
        "datasync.marketquestion": ("view", "change"),
    },
}


def staff_groups_ensure() -> None:
    for group_name, grants in STAFF_GROUPS.items():
        group, _ = Group.objects.get_or_create(name=group_name)
        codenames = [f"{action}_{model.split('.')[1]}" for model, actions in grants.items() for action in actions]
        apps = {model.split(".")[0] for model in grants}
        permissions = Permission.objects.filter(content_type__app_label__in=apps, codename__in=codenames)
        group.permissions.set(permissions)


def tenant_ensure(*, slug: str | None = None, name: str | None = None) -> Tenant:
    slug = slug or settings.DEFAULT_TENANT_SLUG
    tenant, _ = Tenant.objects.get_or_create(slug=slug, defaults={"name": name or "BMC Uruguay"})
    return tenant


def api_key_create(*, tenant: Tenant, name: str) -> tuple[ApiKey, str]:
    """A new key; the returned plain key is never stored and cannot be shown again."""
    with transaction.atomic():
        return ApiKey.objects.create_key(tenant=tenant, name=name)
