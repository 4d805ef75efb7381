from django.apps import AppConfig


class QuotesConfig(AppConfig):
    name = "bmc.quotes"
    label = "quotes"
    verbose_name = "Quotes and catalog"
