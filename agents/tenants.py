"""A company's set-up: the default one with its demo catalog, and companies beyond the first.
Above the records of several apps (tenants, catalogs, follow-up policies, staff groups)."""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.db import transaction

from agents.inventory.stock import stock_demo_load
from agents.quotes.catalog import catalog_import
from bmc.core.models import Tenant
from bmc.core.services import staff_groups_ensure, tenant_ensure
from bmc.sales.models import FollowUpPolicy


class TenantError(ValueError):
    """A company that cannot be created as asked; the message says what is wrong and what is allowed."""


def tenant_create(
    *, slug: str, name: str, tier: str = Tenant.Tier.BASIC, catalog_csv: str | None = None, catalog_source: str = ""
) -> dict[str, Any]:
    """A company beyond the first: the tenant, its follow-up policy (the defaults) and, when given,
    its catalog, all or nothing."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,49}", slug or ""):
        raise TenantError(f"slug '{slug}' is not allowed: 1 to 50 lowercase letters, digits or '-', e.g. 'acme'.")
    if not (name or "").strip():
        raise TenantError("name is required: the company's name, as staff and customers read it.")
    if tier not in Tenant.Tier.values:
        raise TenantError(f"tier '{tier}' is not one of {', '.join(Tenant.Tier.values)}.")
    if Tenant.objects.filter(slug=slug).exists():
        raise TenantError(f"a tenant '{slug}' already exists.")
    with transaction.atomic():
        tenant = Tenant.objects.create(slug=slug, name=name.strip()[:200], tier=tier)
        FollowUpPolicy.objects.create(tenant=tenant)
        catalog = None
        if catalog_csv is not None:
            catalog = catalog_import(tenant=tenant, csv_text=catalog_csv, source=catalog_source or "create_tenant")
    return {"tenant": tenant, "catalog": catalog}


def system_bootstrap() -> dict[str, Any]:
    """Idempotent: the default tenant, its demo catalog and stock, the staff groups."""
    tenant = tenant_ensure()
    catalog = catalog_import(
        tenant=tenant,
        csv_text=settings.DEMO_CATALOG_PATH.read_text(encoding="utf-8"),
        source=settings.DEMO_CATALOG_PATH.name,
    )
    staff_groups_ensure()
    FollowUpPolicy.objects.get_or_create(tenant=tenant)  # the defaults, editable in the admin
    stock = stock_demo_load(tenant=tenant, csv_text=settings.DEMO_STOCK_PATH.read_text(encoding="utf-8"))
    return {"tenant": tenant.slug, "catalog": catalog, "stock_levels": stock}
