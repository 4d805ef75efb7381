from django.core.management.base import BaseCommand

from agents.retention import retention_run


class Command(BaseCommand):
    help = (
        "Delete what is older than its RETENTION_*_DAYS (raw inbound payloads, task records, agents' "
        "messages, closed follow-ups, finished document batches and their files), as beat does daily. "
        "--dry-run counts what would go."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="count what would be deleted, delete nothing")

    def handle(self, *args, dry_run: bool, **options):
        report = retention_run(dry_run=dry_run)
        verb = "would delete" if dry_run else "deleted"
        for kind, count in report["counts"].items():
            self.stdout.write(f"{kind}: {count} {verb}")
