"""Who a staff member is here: their company and their role (the `sales` and `operations`
groups of bmc/core/services.py; a superuser is both)."""

from __future__ import annotations

from django.conf import settings

from bmc.core.models import Tenant

OPERATIONS = "operations"
SALES = "sales"


def staff_tenant(user) -> Tenant:
    """The company a staff member works for: theirs, or the default one."""
    member = getattr(user, "staff_member", None)
    if member is not None:
        return member.tenant
    return Tenant.objects.get(slug=settings.DEFAULT_TENANT_SLUG)


def staff_is_operations(user) -> bool:
    return user.is_superuser or user.groups.filter(name=OPERATIONS).exists()


def staff_is_sales(user) -> bool:
    return user.is_superuser or user.groups.filter(name=SALES).exists()
