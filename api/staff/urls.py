"""`/api/staff/`: the staff API's version 1, its OpenAPI schema and its interactive docs."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.permissions import AllowAny
from rest_framework.routers import SimpleRouter

from api.staff import views

router = SimpleRouter()
router.register("orders", views.OrderViewSet, basename="orders")
router.register("manual-orders", views.ManualOrderViewSet, basename="manual-orders")
router.register("refills", views.RefillViewSet, basename="refills")
router.register("cancels", views.CancelRequestViewSet, basename="cancels")
router.register("customers", views.CustomerViewSet, basename="customers")
router.register("wallets", views.WalletViewSet, basename="wallets")
router.register("payments", views.PaymentViewSet, basename="payments")
router.register("deposits", views.DepositViewSet, basename="deposits")
router.register("providers", views.ProviderViewSet, basename="providers")
router.register("services", views.ServiceViewSet, basename="services")


class SchemaView(SpectacularAPIView):
    """The schema describes endpoints and the permissions they need, no data: anyone may read it."""

    authentication_classes = []
    permission_classes = [AllowAny]


class DocsView(SpectacularSwaggerSplitView):
    """Swagger UI under the site's strict Content-Security-Policy: its set-up script is a file of its own (the
    split view), the assets are drf-spectacular-sidecar's static files, and the page has no inline style."""

    authentication_classes = []
    permission_classes = [AllowAny]
    template_name = "api/staff/swagger_ui.html"
    url_name = "staff-schema"


urlpatterns = [
    path("v1/", include(router.urls)),
    path("schema/", SchemaView.as_view(), name="staff-schema"),
    path("docs/", DocsView.as_view(), name="staff-docs"),
]
