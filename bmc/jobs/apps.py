from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "bmc.jobs"
    label = "jobs"
    verbose_name = "Jobs"
