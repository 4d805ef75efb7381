"""The admin site staff open every day: its home is the sales home (the operations home for
operations), with the inbox, threads and customer pages beside the models."""

from __future__ import annotations

from functools import partial

from django.contrib import admin
from django.urls import path
from django.utils.translation import gettext_lazy as _

from bmc.workspace import views
from bmc.workspace.staff import staff_is_operations, staff_is_sales

# the apps that run the agents rather than the sales: listed after the sales ones
TECHNICAL_APPS = ("jobs", "events", "workflows", "django_celery_beat", "axes", "auth", "core", "workspace")


class WorkspaceSite(admin.AdminSite):
    site_header = "BMC Agents"
    site_title = "BMC Agents"
    index_title = _("Sales and operations")
    index_template = "workspace/home.html"

    def get_urls(self):
        def page(view, name: str, route: str):
            return path(route, self.admin_view(partial(view, self)), name=name)

        return [
            page(views.operations_home, "workspace-operations", "operaciones/"),
            page(views.breaker_close, "workspace-breaker-close", "operaciones/circuitos/cerrar/"),
            page(views.inbox, "workspace-inbox", "bandeja/"),
            page(views.thread, "workspace-thread", "bandeja/<int:conversation_id>/"),
            page(views.thread_action, "workspace-thread-action", "bandeja/<int:conversation_id>/accion/"),
            page(views.customer_page, "workspace-customer", "clientes/<int:customer_id>/"),
            *super().get_urls(),
        ]

    def index(self, request, extra_context=None):
        user = request.user
        if staff_is_operations(user) and not staff_is_sales(user):
            return views.operations_home(self, request)
        return views.sales_home(self, request)

    def get_app_list(self, request, app_label=None):
        """Sales apps first; the technical ones after them, and only for operations."""
        apps = super().get_app_list(request, app_label)
        if not staff_is_operations(request.user):
            apps = [app for app in apps if app["app_label"] not in TECHNICAL_APPS]
        return sorted(apps, key=lambda app: app["app_label"] in TECHNICAL_APPS)
