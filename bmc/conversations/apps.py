from django.apps import AppConfig


class ConversationsConfig(AppConfig):
    name = "bmc.conversations"
    label = "conversations"
    verbose_name = "Conversations"
