from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from agents.quotes.catalog import CatalogError
from agents.tenants import TenantError, tenant_create
from bmc.core.models import Tenant


class Command(BaseCommand):
    help = (
        "Create a company (tenant) beyond the first, with its follow-up policy and optionally its catalog. "
        "Then `create_api_key --tenant <slug>` gives it a key."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug", help="short id, lowercase, e.g. acme")
        parser.add_argument("name", help='the company\'s name, e.g. "ACME Uruguay SA"')
        parser.add_argument("--tier", default=Tenant.Tier.BASIC, choices=Tenant.Tier.values)
        catalog = parser.add_mutually_exclusive_group()
        catalog.add_argument("--catalog", type=Path, help="a catalog CSV to load (columns as data/catalog.csv)")
        catalog.add_argument("--demo-catalog", action="store_true", help="load the demo catalog (data/catalog.csv)")

    def handle(self, *args, slug: str, name: str, tier: str, catalog: Path | None, demo_catalog: bool, **options):
        path = settings.DEMO_CATALOG_PATH if demo_catalog else catalog
        csv_text = None
        if path is not None:
            try:
                csv_text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as error:
                raise CommandError(f"cannot read the catalog {path}: {error}") from None
        try:
            created = tenant_create(
                slug=slug, name=name, tier=tier, catalog_csv=csv_text, catalog_source=path.name if path else ""
            )
        except (TenantError, CatalogError) as error:
            raise CommandError(str(error)) from None
        tenant = created["tenant"]
        catalog_note = (
            f"catalog v{created['catalog']['version']} ({created['catalog']['products']} products)"
            if created["catalog"]
            else "no catalog yet (import one with the datasync.catalog_import task or --catalog)"
        )
        self.stdout.write(f"tenant {tenant.slug} ({tenant.name}, {tenant.tier}) created: {catalog_note}")
