"""The customer's API page: their key (a new one shown once) and the API v2 documentation from api.docs."""

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from accounts.http import signed_in
from accounts.models import ApiKey, User
from accounts.services import api_key_issue
from api import docs
from upstream.protocol import BATCH_LIMIT


def _context(request: HttpRequest, user: User) -> dict[str, Any]:
    return {
        "api_key": ApiKey.objects.filter(user=user).first(),
        "endpoint": request.build_absolute_uri("/api/v2"),
        "key_placeholder": docs.KEY_PLACEHOLDER,
        "common_params": docs.COMMON_PARAMS,
        "common_errors": docs.COMMON_ERRORS,
        "actions": docs.ACTIONS,
        "order_types": docs.ORDER_TYPES,
        "batch_limit": BATCH_LIMIT,
    }


@require_safe
@login_required
def api_page(request: HttpRequest) -> HttpResponse:
    return render(request, "api/page.html", _context(request, signed_in(request)))


@require_http_methods(["GET", "POST"])
@login_required
@never_cache
def api_key_new(request: HttpRequest) -> HttpResponse:
    """Issue a key and show it in this response only: a redirect would need it stored somewhere to show again.

    A GET (a reload, the language switch on this page) goes back to the API page and issues nothing.
    """
    if request.method == "GET":
        return redirect("api-page")
    user = signed_in(request)
    new_key = api_key_issue(user=user)
    return render(request, "api/page.html", {**_context(request, user), "new_key": new_key})
