from django.core.management.base import BaseCommand, CommandError

from agents.erasure import CustomerNotFound, customer_erase, customer_find, customer_is_erased
from bmc.core.models import Tenant

VIA = "manage.py erase_customer"


class Command(BaseCommand):
    help = (
        "Erase a customer's personal data on their request: name, phone, e-mail, message texts, raw "
        "payloads, documents and every mention of their phone or e-mail. Quotes, orders, invoices and "
        "counts stay; the erasure is recorded. Erasing twice changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("customer", help="the customer's phone (+59899123456, 099 123 456) or id")
        parser.add_argument("--tenant", help="the company's slug, when the phone is a customer of several")

    def handle(self, *args, customer: str, tenant: str | None, **options):
        company = None
        if tenant:
            company = Tenant.objects.filter(slug=tenant).first()
            if company is None:
                raise CommandError(f"no company {tenant!r}")
        try:
            found = customer_find(reference=customer, tenant=company)
        except CustomerNotFound as error:
            raise CommandError(str(error)) from None
        already = customer_is_erased(found)
        record = customer_erase(customer=found, via=VIA)
        if already:
            self.stdout.write(f"customer {found.pk} was already erased ({record.erased_at:%Y-%m-%d %H:%M} UTC)")
            return
        counts = ", ".join(f"{kind} {count}" for kind, count in record.counts.items())
        self.stdout.write(f"customer {found.pk} erased: {counts}")
