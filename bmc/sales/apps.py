from django.apps import AppConfig


class SalesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "bmc.sales"
    label = "sales"
    verbose_name = "Follow-ups and collections"
