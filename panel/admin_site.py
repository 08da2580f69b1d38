"""The admin site: open only to staff whose session confirmed a one-time code (django-otp)."""

from django.contrib import admin
from django.http import HttpRequest

from accounts.two_factor import verified


class PanelAdminSite(admin.AdminSite):
    def has_permission(self, request: HttpRequest) -> bool:
        # accounts.middleware.two_factor_gate sends an unconfirmed session to the code page first; this holds even
        # where the middleware is not in the way.
        return super().has_permission(request) and verified(request=request)
