"""The web process (the Procfile's `web:`, under uvicorn): HTTP and WebSockets on one port.

HTTP goes to Django's WSGI handler on a pool of WEB_THREADS threads (a2wsgi), as gunicorn's
threads served it before, so a request that waits (chat/process) holds a thread and not the
process; WebSockets (the staff pages' live updates) go to Channels, authenticated by the admin
session and refused from an origin that is not one of ALLOWED_HOSTS. Each gunicorn worker imports
this after its fork (no --preload), so its tracing's exporter thread is its own."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bmc.settings")

from django.core.wsgi import get_wsgi_application  # noqa: E402

from bmc.tracing import tracing_setup  # noqa: E402

tracing_setup(process="web")  # before Django loads its middleware: the request's span wraps them
django_wsgi = get_wsgi_application()  # sets Django up before the consumers import models

from a2wsgi import WSGIMiddleware  # noqa: E402
from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402

from bmc.workspace.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": WSGIMiddleware(django_wsgi, workers=settings.WEB_THREADS),
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
