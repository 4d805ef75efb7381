from django.core.management.base import BaseCommand, CommandError

from bmc.core.models import Tenant
from bmc.core.services import api_key_create


class Command(BaseCommand):
    help = "Create an API key for a tenant. The key is printed once, as the last line."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, help="tenant slug, e.g. bmc")
        parser.add_argument("--name", required=True, help="who or what uses the key, e.g. n8n")

    def handle(self, *args, tenant: str, name: str, **options):
        try:
            owner = Tenant.objects.get(slug=tenant)
        except Tenant.DoesNotExist:
            known = ", ".join(Tenant.objects.values_list("slug", flat=True)) or "none; run `manage.py bootstrap`"
            raise CommandError(f"Unknown tenant '{tenant}'. Tenants: {known}.") from None
        api_key, key = api_key_create(tenant=owner, name=name)
        self.stderr.write(
            f"API key '{api_key.name}' for tenant {owner.slug} (prefix {api_key.prefix}). "
            "Store it now: it is not shown again."
        )
        self.stdout.write(key)
