from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.utils.translation import gettext_lazy as _


class WorkspaceAdminConfig(admin_apps.AdminConfig):
    """Django's admin, with the workspace's site: its home is the staff's dashboard."""

    default = False
    default_site = "bmc.workspace.site.WorkspaceSite"


class WorkspaceConfig(AppConfig):
    default = True
    name = "bmc.workspace"
    verbose_name = _("Workspace")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from bmc.workspace import signals  # noqa: F401  (connects the live pushes)
