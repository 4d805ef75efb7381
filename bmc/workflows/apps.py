from django.apps import AppConfig


class WorkflowsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "bmc.workflows"
    label = "workflows"
    verbose_name = "Workflows"
