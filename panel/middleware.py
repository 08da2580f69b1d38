"""A form's body the panel cannot read (broken multipart, a charset other than UTF-8, too many fields, too large):
answered 400 before the CSRF check reads it, with one INFO line naming why, instead of Django's traceback in the log.

Views exempt from CSRF (the APIs, the gateways' webhooks) read their bodies themselves and answer in their own
protocol: they are left alone."""

import logging
from collections.abc import Callable

from django.core.exceptions import BadRequest, RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseNotFound, UnreadablePostError
from django.http.multipartparser import MultiPartParserError
from django.urls import Resolver404, get_resolver
from django.views.defaults import ERROR_PAGE_TEMPLATE

logger = logging.getLogger(__name__)
# UnreadablePostError: the client went away in the middle of its body.
UNREADABLE = (
    BadRequest,
    MultiPartParserError,
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
    UnreadablePostError,
)
NOT_FOUND = "The requested resource was not found on this server."  # Django's own 404 page says so


def _view(request: HttpRequest) -> Callable[..., object] | None:
    try:
        return get_resolver(getattr(request, "urlconf", None)).resolve(request.path_info).func
    except Resolver404:
        return None


def unreadable_form(get_response: Callable[[HttpRequest], HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
    def middleware(request: HttpRequest) -> HttpResponse:
        if request.method != "POST":
            return get_response(request)
        view = _view(request)
        if getattr(view, "csrf_exempt", False):
            return get_response(request)
        try:
            request.POST  # noqa: B018  # parsed here, where a failure can be answered
        except UNREADABLE as exc:
            logger.info("unreadable form body on %s (%s): %s", request.path, request.content_type, exc)
            # Django's own pages: its error views would run the CSRF check, reading the body again. An address that
            # is no page stays a 404, whatever was sent to it.
            if view is None:
                return HttpResponseNotFound(ERROR_PAGE_TEMPLATE % {"title": "Not Found", "details": NOT_FOUND})
            return HttpResponseBadRequest(ERROR_PAGE_TEMPLATE % {"title": "Bad Request (400)", "details": ""})
        return get_response(request)

    return middleware


# A page's address, query string included, is at most this long. Sign-in redirects carry the address as `next`,
# percent-encoded up to three times as long, and Django refuses (logging an error) a redirect past 16,384 characters;
# no page of ours takes a query string near this.
MAX_PAGE_URL = 4096


def long_url(get_response: Callable[[HttpRequest], HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
    """A page's address past MAX_PAGE_URL answers 414 with one INFO line (gunicorn has no limit of its own, and Caddy
    lets through 64 KiB: gunicorn.conf.py). API v2 never gets here (api.middleware answers it first)."""

    def middleware(request: HttpRequest) -> HttpResponse:
        # The staff API signs in by its token, never by a redirect, and answers every request in JSON itself.
        if len(request.get_full_path()) > MAX_PAGE_URL and not request.path.startswith("/api/"):
            logger.info("address too long (%d characters) for %s", len(request.get_full_path()), request.path[:100])
            return HttpResponse(
                ERROR_PAGE_TEMPLATE % {"title": "Request-URI Too Long (414)", "details": ""}, status=414
            )
        return get_response(request)

    return middleware
