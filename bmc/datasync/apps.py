from django.apps import AppConfig


class DatasyncConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "bmc.datasync"
    label = "datasync"
    verbose_name = "Data sync"
