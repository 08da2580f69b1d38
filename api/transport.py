"""API v2 in Django REST framework's terms: how requests are read (parsers), who sends them (the key), how often
(the throttle), and how every answer and every error goes out (HTTP 200, JSON, the protocol's exact strings)."""

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, HttpResponse
from django.middleware.gzip import re_accepts_gzip as ACCEPTS_GZIP
from django.utils.cache import patch_vary_headers
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import DataAndFiles, JSONParser, MultiPartParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from accounts.models import User
from accounts.services import api_key_user
from api.protocol import request_params
from panel.errors import ApplicationError
from panel.ratelimit import allow, allow_unless_blocked, client_address
from panel.text import storable
from upstream.messages import INCORRECT_REQUEST, INVALID_KEY, TOO_MANY_REQUESTS

logger = logging.getLogger(__name__)

CONTENT_TYPE = "application/json; charset=utf-8"


class ApiRequest(Request):
    """DRF's request, with the API v2 parameters read once from wherever the client put them."""

    @cached_property
    def params(self) -> dict[str, str]:
        return request_params(self)


def params_of(request: Request) -> dict[str, str]:
    return request.params if isinstance(request, ApiRequest) else request_params(request)


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body or b"{}", parse_float=Decimal)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the decoder goes
        raise exceptions.ParseError() from None
    if not isinstance(data, dict):
        raise exceptions.ParseError()
    return data


class JSONObjectParser(JSONParser):
    """A JSON object body; numbers with a fraction are read as Decimal, never float."""

    def parse(
        self, stream: IO[Any], media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> Any:
        return _json_object(stream.read())


class UnlabelledJSONParser(JSONParser):
    """Any other content type (text/plain, none at all): some clients send a JSON object so labelled. Anything else
    is not a request."""

    media_type = "*/*"

    def parse(
        self, stream: IO[Any], media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> Any:
        body = stream.read()
        if not body.lstrip().startswith(b"{"):
            raise exceptions.ParseError()
        return _json_object(body)


class FormDataParser(MultiPartParser):
    """multipart/form-data; a body of which Django's parser reads no part at all is not a form."""

    def parse(
        self, stream: IO[Any], media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> "DataAndFiles[Any, Any]":  # generic in the stubs only
        parsed = super().parse(stream, media_type, parser_context)
        if not parsed.data and not parsed.files:
            raise exceptions.ParseError()
        return parsed


class JSONAnswerRenderer(JSONRenderer):
    """The protocol's content type, with its charset; Unicode sent as is."""

    charset = "utf-8"
    ensure_ascii = False

    def encode(self, data: Any) -> bytes:
        encoded: bytes = self.render(data)
        return encoded


class JSONOnly(DefaultContentNegotiation):
    """Every client gets JSON, whatever its Accept header says (PHP clients send text/html, others nothing)."""

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type


@dataclass(frozen=True)
class EncodedAnswer:
    """An answer encoded beforehand, as is and gzipped."""

    plain: bytes
    gzipped: bytes


def encoded_response(request: HttpRequest, answer: EncodedAnswer) -> HttpResponse:
    """An answer encoded beforehand, gzipped for a client that accepts it so."""
    gzipped = bool(ACCEPTS_GZIP.search(request.META.get("HTTP_ACCEPT_ENCODING", "")))
    response = HttpResponse(answer.gzipped if gzipped else answer.plain, content_type=CONTENT_TYPE)
    if gzipped:
        response["Content-Encoding"] = "gzip"
    patch_vary_headers(response, ["Accept-Encoding"])
    return response


def _failures(request: HttpRequest) -> str:
    return f"api-failed-key:{client_address(request)}"


class KeyThrottle(BaseThrottle):
    """API_RATE_LIMIT requests per key in each API_RATE_WINDOW; and an address that sent API_FAILED_KEY_LIMIT
    unknown keys in the window is refused whatever key it sends, before any lookup: made-up keys cost no query."""

    def allow_request(self, request: Request, view: APIView) -> bool:
        key = params_of(request).get("key", "").strip()
        if not key or not storable(key):
            return True  # nothing to count (a lone surrogate cannot even name a cache entry): the key check refuses it
        return allow_unless_blocked(
            name=f"api:{key[:32]}",
            limit=settings.API_RATE_LIMIT,
            blocker=_failures(request),
            blocker_limit=settings.API_FAILED_KEY_LIMIT,
            window=settings.API_RATE_WINDOW,
        )


class KeyAuthentication(BaseAuthentication):
    """The customer's API key, from the body or the query string; an unknown key counts against the address."""

    def authenticate(self, request: Request) -> tuple[User, None]:
        key = params_of(request).get("key", "").strip()
        user = api_key_user(key=key) if key else None
        if user is None:
            if key:
                allow(name=_failures(request), limit=settings.API_FAILED_KEY_LIMIT, window=settings.API_RATE_WINDOW)
            raise exceptions.AuthenticationFailed(INVALID_KEY)
        return user, None


def error_message(exc: Exception) -> str:
    """The protocol's string for whatever went wrong."""
    if isinstance(exc, ApplicationError):
        return exc.message
    if isinstance(exc, exceptions.Throttled):
        return TOO_MANY_REQUESTS
    if isinstance(exc, exceptions.AuthenticationFailed | exceptions.NotAuthenticated | exceptions.PermissionDenied):
        return INVALID_KEY
    if isinstance(exc, exceptions.APIException):
        # ParseError, UnsupportedMediaType, MethodNotAllowed, ...: the client's request is broken.
        return INCORRECT_REQUEST
    if isinstance(exc, SuspiciousOperation):
        # Past DATA_UPLOAD_MAX_MEMORY_SIZE or DATA_UPLOAD_MAX_NUMBER_FIELDS, a broken multipart body: the client's
        # doing, not a fault of ours.
        logger.info("api v2: refused a request: %s", type(exc).__name__)
        return INCORRECT_REQUEST
    # A client must always get JSON it can show; the details go to the log, not to the client. Reaching this line is
    # a bug (whatever a client can send has its own answer above or in the actions): it is logged as critical, with
    # its traceback, and any test in which it is reached fails (tests/conftest.py).
    logger.critical("api v2: unexpected error (a bug: this request should have had its own answer)", exc_info=exc)
    return INCORRECT_REQUEST


def exception_handler(exc: Exception, context: Mapping[str, Any]) -> Response:
    """Every error as HTTP 200 `{"error": message}`: clients built on axios lose the message of a 4xx."""
    return Response({"error": error_message(exc)})
