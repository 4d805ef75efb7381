from django.core.management.base import BaseCommand

from agents.tenants import system_bootstrap


class Command(BaseCommand):
    help = "Create the default tenant, load the demo catalog and the staff groups (idempotent)."

    def handle(self, *args, **options):
        result = system_bootstrap()
        catalog = result["catalog"]
        state = "loaded" if catalog["created"] else "unchanged"
        self.stdout.write(
            f"tenant {result['tenant']}: catalog v{catalog['version']} {state} ({catalog['products']} products)"
        )
