"""Reading requests as real API v2 clients send them, and writing answers in the protocol's exact shapes."""

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.http import QueryDict
from rest_framework.request import Request

from orders.models import Refill
from orders.selectors import OrderState
from panel.errors import ApplicationError
from panel.money import AMOUNT_QUANTUM, RATE_QUANTUM
from panel.text import encodable
from upstream.messages import INCORRECT_REQUEST, TOO_MANY_IDS
from upstream.protocol import BATCH_LIMIT


class ApiError(ApplicationError):
    """An answer `{"error": message}` for the whole request."""


def _scalar(value: object) -> str | None:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, str | int | Decimal):
        return str(value)
    return None


def _text(value: object) -> str | None:
    if isinstance(value, list):
        # Ids as a JSON array ([1, 2, 3]). No client nests lists; walking deeply nested ones would overflow the stack.
        return ",".join(text for item in value if (text := _scalar(item)) is not None)
    return _scalar(value)


def request_params(request: Request) -> dict[str, str]:
    """The parameters of a GET query string, a form or multipart POST, or a JSON object body (all merged)."""
    params = {key: str(value) for key, value in request.query_params.items()}
    if request.method != "POST":
        return params
    body = request.data
    if isinstance(body, QueryDict):  # a form's fields (request.POST), never its files
        params.update((key, str(value)) for key, value in request.POST.items())
    else:
        params.update({str(key): text for key, value in body.items() if (text := _text(value)) is not None})
        if not all(encodable(name) and encodable(value) for name, value in params.items()):
            # A lone surrogate (`"\\ud800"`): JSON that is not Unicode text, which no answer could even echo.
            raise ApiError(INCORRECT_REQUEST)
    return params


def parse_ids(text: str) -> list[str]:
    """The ids of a batch parameter as given (kept as text: answers are keyed by what the client sent)."""
    ids = [token.strip() for token in text.split(",") if token.strip()]
    if not ids:
        raise ApiError(INCORRECT_REQUEST)
    if len(ids) > BATCH_LIMIT:
        raise ApiError(TOO_MANY_IDS)
    return ids


def money(amount: Decimal) -> str:
    return str(amount.quantize(AMOUNT_QUANTUM))


def rate_text(rate: Decimal) -> str:
    """A rate as panels show it: "0.90", "1.35", "0.01875" (no trailing zeros past the second decimal)."""
    text = f"{rate.quantize(RATE_QUANTUM).normalize():f}"
    whole, _, fraction = text.partition(".")
    return f"{whole}.{fraction.ljust(2, '0')}"


def order_status(order: OrderState) -> dict[str, Any]:
    remains = order.quantity if order.remains is None else order.remains
    return {
        "charge": money(order.charge),
        "start_count": str(order.start_count or 0),
        "status": order.status,
        "remains": str(remains),
        "currency": settings.PANEL_CURRENCY,
    }


def refill_status(refill: Refill) -> str:
    """Our own bookkeeping states (queued, sending, sent) are all "Pending" to the customer."""
    return refill.status if refill.status in (*Refill.FINAL, Refill.Status.IN_PROGRESS) else "Pending"
