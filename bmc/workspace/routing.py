from django.urls import path

from bmc.workspace.consumers import InboxConsumer, StatsConsumer

websocket_urlpatterns = [
    path("ws/inbox", InboxConsumer.as_asgi()),
    path("ws/stats", StatsConsumer.as_asgi()),
]
