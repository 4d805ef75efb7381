from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SalesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "bmc.sales"
    label = "sales"
    verbose_name = _("Follow-ups and collections")
