"""The admin site: open only to staff whose session confirmed a one-time code (django-otp); its index is the
operators' dashboard."""

from typing import Any

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils import timezone

from accounts.two_factor import verified
from backoffice.charts import day_chart, status_chart
from backoffice.selectors import dashboard_figures


class PanelAdminSite(admin.AdminSite):
    index_template = "admin/dashboard.html"

    def has_permission(self, request: HttpRequest) -> bool:
        # accounts.middleware.two_factor_gate sends an unconfirmed session to the code page first; this holds even
        # where the middleware is not in the way.
        return super().has_permission(request) and verified(request=request)

    def index(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> TemplateResponse:
        """The dashboard above the app list, for those who may see orders (it is made of them); others get the
        app list alone."""
        context = dict(extra_context or {})
        if request.user.has_perm("orders.view_order"):
            figures = dashboard_figures(now=timezone.now())
            context["dashboard"] = figures
            context["day_chart"] = day_chart(figures.days)
            context["status_chart"] = status_chart(figures.by_status)
            context["time_zone_name"] = settings.TIME_ZONE
        return super().index(request, context)
