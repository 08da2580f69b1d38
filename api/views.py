"""The `/api/v2` endpoint: one URL, an `action` per call, answers always JSON with HTTP 200.

One DRF view (api.transport has its parsers, key authentication, throttle and exception handler); the actions
below call the same selectors and services as the pages.
"""

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponseBase
from rest_framework import exceptions
from rest_framework.parsers import FormParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from api.protocol import ApiError, order_status, parse_ids, refill_status
from api.services_answer import services_answer
from api.transport import (
    ApiRequest,
    EncodedAnswer,
    FormDataParser,
    JSONAnswerRenderer,
    JSONObjectParser,
    JSONOnly,
    KeyAuthentication,
    KeyThrottle,
    UnlabelledJSONParser,
    encoded_response,
    exception_handler,
)
from billing.selectors import user_balance
from orders.models import Order
from orders.selectors import order_states_of, refills_of
from orders.services.followups import cancel_request, refill_request
from orders.services.placement import order_place, order_place_once
from panel.errors import ApplicationError
from panel.ids import record_id
from upstream.messages import INCORRECT_ORDER, INCORRECT_REQUEST, REFILL_NOT_FOUND

# Not order parameters: never sent upstream, never part of an idempotency fingerprint.
CONTROL_PARAMS = {"key", "action", "service", "idempotency_key"}
Params = dict[str, str]


def _balance(user: User, params: Params) -> Any:
    return {"balance": f"{user_balance(user=user):.5f}", "currency": settings.PANEL_CURRENCY}


def _services(user: User, params: Params) -> Any:
    return services_answer(user=user)


def _add(user: User, params: Params) -> Any:
    order_params = {name: value for name, value in params.items() if name not in CONTROL_PARAMS}
    service_id = params.get("service", "")
    if "idempotency_key" in params:
        order, _ = order_place_once(
            user=user,
            service_id=service_id,
            params=order_params,
            key=params["idempotency_key"],
            origin=Order.Origin.API,
        )
    else:
        order = order_place(user=user, service_id=service_id, params=order_params, origin=Order.Origin.API)
    return {"order": order.pk}


def _status(user: User, params: Params) -> Any:
    if "orders" not in params:
        pk = record_id(params.get("order", "")) or 0
        order = order_states_of(user=user, ids=[pk]).get(pk)
        if order is None:
            raise ApiError(INCORRECT_ORDER)
        return order_status(order)
    ids = parse_ids(params["orders"])
    found = order_states_of(user=user, ids=[number for token in ids if (number := record_id(token))])
    answers: dict[str, Any] = {}
    for token in ids:
        order = found.get(record_id(token) or 0)
        answers[token] = order_status(order) if order else {"error": INCORRECT_ORDER}
    return answers


def _each(ids: list[str], ask: Callable[[str], object]) -> list[tuple[str, object]]:
    """Ask for each id on its own: one refused id does not refuse the batch."""
    answers = []
    for token in ids:
        try:
            answers.append((token, ask(token)))
        except ApplicationError as exc:
            answers.append((token, {"error": exc.message}))
    return answers


def _number(token: str) -> int | str:
    return record_id(token) or token


def _refill(user: User, params: Params) -> Any:
    if "orders" not in params:
        return {"refill": str(refill_request(user=user, order_id=params.get("order", "")).pk)}
    answers = _each(parse_ids(params["orders"]), lambda token: refill_request(user=user, order_id=token).pk)
    return [{"order": _number(token), "refill": answer} for token, answer in answers]


def _refill_status(user: User, params: Params) -> Any:
    batch = params.get("refills", params.get("orders"))
    if batch is None:
        pk = record_id(params.get("refill", "")) or 0
        refill = refills_of(user=user, ids=[pk]).get(pk)
        if refill is None:
            raise ApiError(REFILL_NOT_FOUND)
        return {"status": refill_status(refill)}
    ids = parse_ids(batch)
    found = refills_of(user=user, ids=[number for token in ids if (number := record_id(token))])
    answers = []
    for token in ids:
        refill = found.get(record_id(token) or 0)
        status: object = refill_status(refill) if refill else {"error": REFILL_NOT_FOUND}
        answers.append({"refill": _number(token), "status": status})
    return answers


def _cancel(user: User, params: Params) -> Any:
    ids = parse_ids(params.get("orders", params.get("order", "")))

    def cancel(token: str) -> int:
        cancel_request(user=user, order_id=token)
        return 1

    return [{"order": _number(token), "cancel": answer} for token, answer in _each(ids, cancel)]


ACTIONS: dict[str, Callable[[User, Params], Any]] = {
    "balance": _balance,
    "services": _services,
    "add": _add,
    "status": _status,
    "refill": _refill,
    "refill_status": _refill_status,
    "cancel": _cancel,
}


def _declared_length(request: Request) -> int:
    length = str(request.META.get("CONTENT_LENGTH") or "0")
    return int(length) if length.isascii() and length.isdigit() else 0


class ApiV2View(APIView):
    """POST (form, multipart or JSON) or GET, `key` and `action` in the body or the query string."""

    http_method_names = ["get", "post"]
    parser_classes = [FormParser, FormDataParser, JSONObjectParser, UnlabelledJSONParser]
    authentication_classes = [KeyAuthentication]
    permission_classes = [IsAuthenticated]
    throttle_classes = [KeyThrottle]
    renderer_classes = [JSONAnswerRenderer]
    content_negotiation_class = JSONOnly
    schema = None  # documented by api/docs.py on the customers' API page, not in the staff API's OpenAPI schema

    def initialize_request(self, request: HttpRequest, *args: Any, **kwargs: Any) -> ApiRequest:
        return ApiRequest(
            request,
            parsers=self.get_parsers(),
            authenticators=self.get_authenticators(),
            negotiator=self.get_content_negotiator(),
            parser_context=self.get_parser_context(request),
        )

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # DRF's steps in another order: the method first (any other is an incorrect request, whatever the key), then
        # the throttle before the key lookup (an address refused for made-up keys costs no query).
        if request.method not in ("GET", "POST"):
            raise exceptions.MethodNotAllowed(str(request.method))
        if _declared_length(request) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            # Django caps only the fields of a multipart body; a form or JSON body would be read whole.
            raise RequestDataTooBig()
        self.format_kwarg = None
        request.accepted_renderer, request.accepted_media_type = self.perform_content_negotiation(request)
        self.check_throttles(request)
        self.perform_authentication(request)
        self.check_permissions(request)

    def get_exception_handler(self) -> Callable[[Exception, dict[str, Any]], Response]:
        return exception_handler

    def post(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponseBase:
        assert isinstance(request, ApiRequest) and isinstance(request.user, User)  # made so by the steps above
        params = request.params
        action = ACTIONS.get(params.get("action", "").strip().lower())
        if action is None:
            raise ApiError(INCORRECT_REQUEST)
        answer = action(request.user, params)
        if isinstance(answer, EncodedAnswer):  # services
            return encoded_response(request, answer)
        return Response(answer)

    get = post


api_v2 = ApiV2View.as_view()
