from django.contrib import admin
from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.generic import RedirectView

from api.views import api_v2


def healthz(request: HttpRequest) -> JsonResponse:
    """For load balancers: the process answers (no database, no cache)."""
    return JsonResponse({"ok": True})


admin.site.site_header = "SMM panel administration"
admin.site.site_title = "SMM panel"
# The catalog lists are wide (prices, margin, editable columns): give them the whole page.
admin.site.enable_nav_sidebar = False

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v2", api_v2, name="api-v2"),
    path("api/v2/", api_v2),
    path("healthz", healthz, name="healthz"),
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
]
