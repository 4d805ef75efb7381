from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from bmc.core.admin import pretty_json
from bmc.payments.models import Payment


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
    """What Mercado Pago reported of each payment, and whether it went to its order."""

    list_display = ("external_id", "provider", "order", "status", "amount", "currency", "applied_at", "created_at")
    list_filter = ("provider", "status")
    search_fields = ("external_id",)
    readonly_fields = (
        "provider",
        "external_id",
        "order",
        "status",
        "amount",
        "currency",
        "shown_raw",
        "applied_at",
        "created_at",
    )
    fields = readonly_fields

    def has_add_permission(self, request) -> bool:
        return False  # payments are what the provider reports

    @admin.display(description=_("As the provider returned it"))
    def shown_raw(self, obj) -> str:
        return pretty_json(obj.raw)
