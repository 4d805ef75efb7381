from django.core.management.base import BaseCommand, CommandError

from bmc.core.models import Tenant


class Command(BaseCommand):
    help = "Set a tenant's tier, which sets its limits (README, 'Tiers and limits')."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, help="tenant slug, e.g. bmc")
        parser.add_argument("--tier", required=True, choices=list(Tenant.Tier.values))

    def handle(self, *args, tenant: str, tier: str, **options):
        if not Tenant.objects.filter(slug=tenant).update(tier=tier):
            known = ", ".join(Tenant.objects.values_list("slug", flat=True)) or "none; run `manage.py bootstrap`"
            raise CommandError(f"Unknown tenant '{tenant}'. Tenants: {known}.")
        self.stderr.write(f"Tenant {tenant} is now on the {tier} tier.")
