"""On every request: a signed-in customer's own language and time zone, and the second factor when one is due."""

import zoneinfo
from collections.abc import Callable

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone, translation

from accounts.two_factor import two_factor_required


def customer_preferences(get_response: Callable[[HttpRequest], HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
    def middleware(request: HttpRequest) -> HttpResponse:
        user = request.user
        if user.is_authenticated:
            if user.language:
                translation.activate(user.language)
                request.LANGUAGE_CODE = user.language
            try:
                timezone.activate(zoneinfo.ZoneInfo(user.time_zone or "UTC"))
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                timezone.deactivate()
        else:
            timezone.deactivate()
        return get_response(request)

    return middleware


def two_factor_gate(get_response: Callable[[HttpRequest], HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
    """Staff, and customers who enabled TOTP, reach nothing but the code page until they confirm a code."""
    # The staff API never reads the session (only its tokens open it): its refusals stay JSON.
    open_paths = ("/accounts/two-factor/", "/accounts/logout/", "/language/", "/static/", "/healthz", "/api/staff/")

    def middleware(request: HttpRequest) -> HttpResponse:
        if two_factor_required(request=request) and not request.path.startswith(open_paths):
            return redirect_to_login(request.get_full_path(), reverse("two_factor"))
        return get_response(request)

    return middleware
