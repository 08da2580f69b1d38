from django.contrib import admin
from django.core.cache import cache
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import include, path

from accounts.http import signed_in
from orders.selectors import customer_summary
from orders.views.placing import order_new
from support.selectors import tickets_open_count


def healthz(request: HttpRequest) -> JsonResponse:
    """For load balancers: the process answers (no database, no cache)."""
    return JsonResponse({"ok": True})


def ready(request: HttpRequest) -> JsonResponse:
    """For the container's health check: the database and the cache (Redis) answer; 503 naming what does not."""
    down = []
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        down.append("database")
    try:
        cache.set("health:ready", "1", timeout=10)
        if cache.get("health:ready") != "1":
            down.append("cache")
    except Exception:  # any failure of the cache backend (redis.ConnectionError, ...) means it is not there
        down.append("cache")
    return JsonResponse({"ok": not down, "down": down}, status=503 if down else 200)


def home(request: HttpRequest) -> HttpResponse:
    """A signed-in customer starts on their summary and New order; anyone else on the sign-in page."""
    if request.user.is_authenticated:
        user = signed_in(request)
        home = {"summary": customer_summary(user=user), "open_tickets": tickets_open_count(user=user)}
        return order_new(request, home=home)
    return redirect("login")


admin.site.site_header = "SMM panel administration"
admin.site.site_title = "SMM panel"
# The catalog lists are wide (prices, margin, editable columns): give them the whole page.
admin.site.enable_nav_sidebar = False

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/staff/", include("api.staff.urls")),
    path("", include("api.urls")),
    path("", include("accounts.urls")),
    path("", include("orders.urls")),
    path("", include("catalog.urls")),
    path("", include("billing.urls")),
    path("", include("notifications.urls")),
    path("", include("support.urls")),
    path("healthz", healthz, name="healthz"),
    path("healthz/ready", ready, name="ready"),
    path("", home, name="home"),
]
