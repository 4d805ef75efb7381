from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "bmc.core"
    label = "core"
    verbose_name = _("BMC Agents")

    def ready(self) -> None:
        from bmc.core.services import staff_groups_ensure  # models load only once the apps are ready

        # after every app's migrations, not only core's: the groups grant permissions on other
        # apps' models (quotes, jobs, sales...), which exist only once those apps have migrated
        post_migrate.connect(lambda **kwargs: staff_groups_ensure(), weak=False, dispatch_uid="staff_groups_ensure")
