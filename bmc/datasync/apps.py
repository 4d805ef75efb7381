from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DatasyncConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "bmc.datasync"
    label = "datasync"
    verbose_name = _("Data sync")
