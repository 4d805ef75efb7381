from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from bmc.api.metrics import metrics_view
from bmc.conversations import webhook as whatsapp
from bmc.datasync import webhook as shopify
from bmc.jobs import api as jobs
from bmc.payments import webhook as mercadopago
from bmc.quotes import api as quotes

admin.site.site_header = "BMC Agents"
admin.site.site_title = "BMC Agents"
admin.site.index_title = "Ventas y operaciones"

urlpatterns = [
    path("health", jobs.health_view, name="health"),
    path("health/detailed", jobs.health_detailed_view, name="health-detailed"),
    path("metrics", metrics_view, name="metrics"),
    path("api/v1/webhooks/whatsapp", whatsapp.whatsapp_webhook_view, name="whatsapp-webhook"),
    path("api/v1/webhooks/mercadopago", mercadopago.mercadopago_webhook_view, name="mercadopago-webhook"),
    path("api/v1/webhooks/shopify", shopify.shopify_webhook_view, name="shopify-webhook"),
    path("api/v1/", include("bmc.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("q/<int:quote_id>/<str:token>.pdf", quotes.quote_public_pdf_view, name="quote-public-pdf"),
    path("admin/", admin.site.urls),
]

handler404 = "bmc.api.errors.api_not_found"
handler500 = "bmc.api.errors.api_server_error"
