import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bmc.settings")

from bmc.tracing import tracing_setup  # noqa: E402

tracing_setup(process="web")  # before Django loads its middleware: the request's span wraps them
application = get_wsgi_application()
