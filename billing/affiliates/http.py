"""The referral cookie: set by a referral link, read at sign-up. Signed with a timestamp, so that a cookie kept
past AFFILIATE_COOKIE_DAYS (or written by hand) refers nobody."""

from datetime import timedelta

from django.conf import settings
from django.http import HttpRequest
from django.http.response import HttpResponseBase

from billing.affiliates.selectors import affiliate_code_of

COOKIE = "referral"
SALT = "billing.affiliates.referral"


def _lifetime() -> timedelta:
    return timedelta(days=settings.AFFILIATE_COOKIE_DAYS)


def referral_cookie_set(response: HttpResponseBase, *, request: HttpRequest, code: str) -> None:
    response.set_signed_cookie(
        COOKIE, code, salt=SALT, max_age=int(_lifetime().total_seconds()), httponly=True, samesite="Lax",
        secure=request.is_secure(),
    )  # fmt: skip


def referral_cookie_code(request: HttpRequest) -> str:
    """The code of the referral link this browser followed within the cookie's lifetime, or ""."""
    return request.get_signed_cookie(COOKIE, default="", salt=SALT, max_age=_lifetime()) or ""


def referral_cookie_drop(response: HttpResponseBase) -> None:
    response.delete_cookie(COOKIE, samesite="Lax")


def referral_cookie_drop_own(request: HttpRequest, response: HttpResponseBase) -> None:
    """A browser signed in as the link's owner forgets their own link: an account they create in it later, after
    signing out, is not referred by them."""
    code = referral_cookie_code(request)
    if code and request.user.is_authenticated and affiliate_code_of(user_id=request.user.pk) == code:
        referral_cookie_drop(response)
