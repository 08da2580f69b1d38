"""How django-axes counts password checks: per (normalised username, client address) pair, from our settings."""

import unicodedata
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy

from accounts.models import User

TOO_MANY_ATTEMPTS = gettext_lazy("Too many attempts from your address. Please wait a few minutes and try again.")


def normalised_username(request: HttpRequest, credentials: dict[str, Any] | None = None) -> str:
    # Django's UsernameField strips and NFKC-normalises before it authenticates; usernames are unique regardless
    # of case (accounts.services), so " alice", "ａｌｉｃｅ" and "ALICE" are all guesses at alice.
    raw = (credentials or {}).get("username")
    if raw is None:
        raw = request.POST.get("username", "")
    return unicodedata.normalize("NFKC", str(raw).strip()).lower()[:150]


def failure_limit(request: HttpRequest, credentials: dict[str, Any] | None = None) -> int:
    return int(settings.LOGIN_RATE_LIMIT)


def cool_off(request: HttpRequest | None = None) -> timedelta:
    return timedelta(seconds=settings.AUTH_RATE_WINDOW)


def lockout_response(
    request: HttpRequest, response: HttpResponse | None = None, credentials: dict[str, Any] | None = None
) -> HttpResponse:
    """What a locked-out (username, address) pair gets instead of a password check: 429 and the reason."""
    if request.path.startswith("/admin/"):
        return HttpResponse(str(TOO_MANY_ATTEMPTS), status=429, content_type="text/plain; charset=utf-8")
    if request.resolver_match is not None and request.resolver_match.url_name == "login":
        from accounts.views import LoginForm

        form = LoginForm(request, initial={"username": request.POST.get("username", "")[:150]})
        return render(request, "accounts/login.html", {"form": form, "refused": TOO_MANY_ATTEMPTS}, status=429)
    return render(request, "accounts/too_many_attempts.html", {"refused": TOO_MANY_ATTEMPTS}, status=429)


def password_confirmed(*, request: HttpRequest, user: User, password: str) -> bool:
    """Whether `password` is the user's own, checked through authenticate() so that django-axes counts it."""
    return authenticate(request, username=user.get_username(), password=password) == user
