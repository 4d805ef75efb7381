from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class AlertsConfig(AppConfig):
    name = "bmc.alerts"
    label = "alerts"
    verbose_name = _("Alerts")

    def ready(self) -> None:
        from bmc.alerts.defaults import alert_rules_default  # models load only once the apps are ready

        post_migrate.connect(
            lambda sender, **kwargs: alert_rules_default() if sender is self else None,
            weak=False,
            dispatch_uid="alert_rules_default",
        )
