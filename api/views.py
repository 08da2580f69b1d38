"""The `/api/v2` endpoint: one URL, an `action` per call, answers always JSON with HTTP 200."""

import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from accounts.models import User
from accounts.services import api_key_user
from api.protocol import ApiError, order_status, parse_ids, rate_text, refill_status, request_params
from billing.selectors import wallet_balance
from catalog.selectors import customer_catalog
from orders.selectors import orders_of, refills_of
from orders.services.followups import cancel_request, refill_request
from orders.services.placement import order_place, order_place_once
from panel.errors import ApplicationError
from panel.ids import record_id
from panel.ratelimit import allow, client_address, hits
from upstream.messages import INCORRECT_ORDER, INCORRECT_REQUEST, INVALID_KEY, REFILL_NOT_FOUND, TOO_MANY_REQUESTS

logger = logging.getLogger(__name__)

# Not order parameters: never sent upstream, never part of an idempotency fingerprint.
CONTROL_PARAMS = {"key", "action", "service", "idempotency_key"}
Params = dict[str, str]


def _balance(user: User, params: Params) -> Any:
    return {"balance": f"{wallet_balance(user_id=user.pk):.5f}", "currency": settings.PANEL_CURRENCY}


def _services(user: User, params: Params) -> Any:
    return [
        {
            "service": row["pk"],
            "name": row["name"],
            "type": row["type"],
            "category": row["category"],
            "rate": rate_text(row["rate"]),
            "min": str(row["min"]),
            "max": str(row["max"]),
            "refill": row["refill"],
            "cancel": row["cancel"],
            "dripfeed": row["dripfeed"],
            "desc": row["description"],
        }
        for row in customer_catalog(user=user)
    ]


def _add(user: User, params: Params) -> Any:
    order_params = {name: value for name, value in params.items() if name not in CONTROL_PARAMS}
    service_id = params.get("service", "")
    if "idempotency_key" in params:
        order, _ = order_place_once(
            user=user, service_id=service_id, params=order_params, key=params["idempotency_key"]
        )
    else:
        order = order_place(user=user, service_id=service_id, params=order_params)
    return {"order": order.pk}


def _status(user: User, params: Params) -> Any:
    if "orders" not in params:
        pk = record_id(params.get("order", "")) or 0
        order = orders_of(user=user, ids=[pk]).get(pk)
        if order is None:
            raise ApiError(INCORRECT_ORDER)
        return order_status(order)
    ids = parse_ids(params["orders"])
    found = orders_of(user=user, ids=[number for token in ids if (number := record_id(token))])
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


def _answer(payload: Any) -> JsonResponse:
    return JsonResponse(
        payload, safe=False, json_dumps_params={"ensure_ascii": False}, content_type="application/json; charset=utf-8"
    )


def _handle(request: HttpRequest) -> Any:
    if request.method not in ("GET", "POST"):
        raise ApiError(INCORRECT_REQUEST)
    params = request_params(request)
    key = params.get("key", "").strip()
    if not key:
        raise ApiError(INVALID_KEY)
    # Made-up keys are never limited per key (each is new): an address that sent too many is refused before any
    # lookup, whatever key it sends now, until the window ends.
    failures = f"api-failed-key:{client_address(request)}"
    if hits(name=failures, window=settings.API_RATE_WINDOW) >= settings.API_FAILED_KEY_LIMIT:
        raise ApiError(TOO_MANY_REQUESTS)
    if not allow(name=f"api:{key[:32]}", limit=settings.API_RATE_LIMIT, window=settings.API_RATE_WINDOW):
        raise ApiError(TOO_MANY_REQUESTS)
    user = api_key_user(key=key)
    if user is None:
        allow(name=failures, limit=settings.API_FAILED_KEY_LIMIT, window=settings.API_RATE_WINDOW)
        raise ApiError(INVALID_KEY)
    action = ACTIONS.get(params.get("action", "").strip().lower())
    if action is None:
        raise ApiError(INCORRECT_REQUEST)
    return action(user, params)


@csrf_exempt
def api_v2(request: HttpRequest) -> JsonResponse:
    try:
        return _answer(_handle(request))
    except ApplicationError as exc:
        return _answer({"error": exc.message})
    except Exception:
        # A client must always get JSON it can show; the details go to the log, not to the client.
        logger.exception("api v2: unexpected error")
        return _answer({"error": INCORRECT_REQUEST})
