from django.contrib import admin
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import include, path

from orders.views.placing import order_new


def healthz(request: HttpRequest) -> JsonResponse:
    """For load balancers: the process answers (no database, no cache)."""
    return JsonResponse({"ok": True})


def home(request: HttpRequest) -> HttpResponse:
    """A signed-in customer starts on New order; anyone else on the sign-in page."""
    if request.user.is_authenticated:
        return order_new(request)
    return redirect("login")


admin.site.site_header = "SMM panel administration"
admin.site.site_title = "SMM panel"
# The catalog lists are wide (prices, margin, editable columns): give them the whole page.
admin.site.enable_nav_sidebar = False

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("api.urls")),
    path("", include("accounts.urls")),
    path("", include("orders.urls")),
    path("", include("catalog.urls")),
    path("", include("billing.urls")),
    path("healthz", healthz, name="healthz"),
    path("", home, name="home"),
]
