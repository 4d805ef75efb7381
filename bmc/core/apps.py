from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    name = "bmc.core"
    label = "core"
    verbose_name = "BMC Agents"

    def ready(self) -> None:
        from bmc.core.services import staff_groups_ensure  # models load only once the apps are ready

        post_migrate.connect(lambda **kwargs: staff_groups_ensure(), sender=self, weak=False)
