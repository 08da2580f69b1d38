"""The one source of our API v2 documentation: every action, its parameters, examples and error strings.

The API page renders it and tests hold it to the real endpoint, so the two cannot drift apart.
"""

import json
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrPromise

from orders.models import Order, Refill
from upstream.messages import (
    ACCOUNT_ON_HOLD,
    CANCEL_DISABLED,
    DRIPFEED_DISABLED,
    DUPLICATE_LINK,
    IDEMPOTENCY_KEY_LENGTH,
    IDEMPOTENCY_REUSED,
    INCORRECT_LINK,
    INCORRECT_ORDER,
    INCORRECT_QUANTITY,
    INCORRECT_REQUEST,
    INCORRECT_SERVICE,
    INVALID_CHARACTERS,
    INVALID_KEY,
    NOT_ENOUGH_FUNDS,
    QUANTITY_ABOVE_MAX,
    QUANTITY_BELOW_MIN,
    REFILL_DISABLED,
    REFILL_NOT_FOUND,
    TOO_MANY_IDS,
    TOO_MANY_REQUESTS,
    UNSUPPORTED_TYPE,
)
from upstream.service_types import SUPPORTED_TYPES, ServiceType

KEY_PLACEHOLDER = "YOUR_API_KEY"
# The ids the examples use, named so that the drift test can map them to real records.
SERVICE = 1
ORDER, OTHER_ORDER, OPEN_ORDER, UNKNOWN_ORDER = 23501, 23502, 23503, 99999
REFILL, UNKNOWN_REFILL = 1041, 1099


class Need(Enum):
    REQUIRED = "required"
    OPTIONAL = "optional"
    BY_TYPE = "by type"

    @property
    def label(self) -> StrPromise:
        return _NEED_LABELS[self]


_NEED_LABELS = {Need.REQUIRED: _("Required"), Need.OPTIONAL: _("Optional"), Need.BY_TYPE: _("By service type")}


@dataclass(frozen=True)
class Param:
    name: str
    need: Need
    description: StrPromise


@dataclass(frozen=True)
class Example:
    """A request (without `key`) and the answer it gets, as Python data."""

    request: Mapping[str, str]
    response: object
    title: StrPromise | None = None

    @property
    def curl_args(self) -> list[str]:
        return [
            f"-d {shlex.quote(f'{name}={value}')}" for name, value in {"key": KEY_PLACEHOLDER, **self.request}.items()
        ]

    @property
    def response_json(self) -> str:
        return json.dumps(self.response, indent=2, ensure_ascii=False)


@dataclass(frozen=True)
class Action:
    name: str
    description: StrPromise
    params: tuple[Param, ...]
    examples: tuple[Example, ...]
    errors: tuple[str, ...]
    statuses: tuple[str, ...] = ()

    @property
    def anchor(self) -> str:
        return f"action-{self.name}"


@dataclass(frozen=True)
class OrderType:
    """What `add` takes for one service type; `counted` names the field whose lines are the quantity."""

    name: str
    required: tuple[str, ...]
    optional: tuple[str, ...]
    counted: str | None
    package: bool


def error_text(template: str) -> str:
    """An error string as documented: the values a message carries shown as <name>."""
    names = re.findall(r"%\((\w+)\)s", template)
    return template % {name: f"<{name}>" for name in names} if names else template


def _order_type(kind: ServiceType) -> OrderType:
    required = (*(("link",) if kind.link else ()), *(("quantity",) if kind.quantity else ()), *kind.fields)
    optional = (*(("runs", "interval") if kind.dripfeed else ()), *kind.optional)
    return OrderType(name=kind.name, required=required, optional=optional, counted=kind.counted, package=kind.package)


ORDER_TYPES = tuple(_order_type(kind) for kind in SUPPORTED_TYPES.values())

_ORDER_FIELDS = {
    "link": _("The link to promote: a post, a profile, a page."),
    "quantity": _("How many units, between the service's min and max (per run with drip-feed)."),
    "runs": _("Drip-feed: how many times to deliver the quantity. Only for services with dripfeed true."),
    "interval": _("Drip-feed: the minutes between runs; required with runs."),
    "comments": _("The comments, one per line."),
    "usernames": _("The usernames, one per line."),
    "hashtags": _("The hashtags, one per line."),
    "hashtag": _("The hashtag."),
    "username": _("The username."),
    "media": _("The link to the media whose likers are targeted."),
    "answer_number": _("The number of the poll answer to vote for."),
    "groups": _("The groups to invite from, one per line."),
    "country": _("Web traffic: the country the visits come from."),
    "device": _("Web traffic: the device the visits come from, 1 to 5."),
    "type_of_traffic": _("Web traffic: 1 keyword (needs google_keyword), 2 referrer (needs referring_url), 3 blank."),
    "google_keyword": _("Web traffic: the Google search keyword, for type_of_traffic 1."),
    "referring_url": _("Web traffic: the referring page, for type_of_traffic 2."),
}


def _need(name: str) -> Need:
    needed_by = sum(name in order_type.required for order_type in ORDER_TYPES)
    if needed_by == len(ORDER_TYPES):
        return Need.REQUIRED
    return Need.BY_TYPE if needed_by else Need.OPTIONAL


def order_fields() -> tuple[str, ...]:
    """Every parameter some service type takes, in the order the types list them."""
    names = (name for order_type in ORDER_TYPES for name in (*order_type.required, *order_type.optional))
    return tuple(dict.fromkeys(names))


COMMON_PARAMS = (
    Param("key", Need.REQUIRED, _("Your API key.")),
    Param("action", Need.REQUIRED, _("What to do: one of the actions below.")),
)
COMMON_ERRORS = (INVALID_KEY, INCORRECT_REQUEST, TOO_MANY_REQUESTS)

_ORDER_ID = Param("order", Need.OPTIONAL, _("One order id."))
_ORDER_IDS = Param("orders", Need.OPTIONAL, _("Several order ids, separated by commas (instead of order)."))
_CURRENCY = settings.PANEL_CURRENCY
_ADD = {"action": "add", "service": str(SERVICE), "link": "https://instagram.com/p/abc", "quantity": "1000"}
_STATUS = {"charge": "0.27819", "start_count": "3572", "status": "Partial", "remains": "157", "currency": _CURRENCY}

ACTIONS = (
    Action(
        name="balance",
        description=_("Your balance, and the currency of every amount and rate."),
        params=(),
        examples=(Example({"action": "balance"}, {"balance": "100.84292", "currency": _CURRENCY}),),
        errors=(),
    ),
    Action(
        name="services",
        description=_(
            "Every service you can order, at your own rates. The rate is the price per 1000 units in your "
            "currency; min and max bound the quantity; refill, cancel and dripfeed tell what the service allows."
        ),
        params=(),
        examples=(
            Example(
                {"action": "services"},
                [
                    {
                        "service": SERVICE,
                        "name": "Instagram Likes",
                        "type": "Default",
                        "category": "Instagram",
                        "rate": "0.90",
                        "min": "50",
                        "max": "10000",
                        "refill": True,
                        "cancel": True,
                        "dripfeed": True,
                        "desc": "Real-looking likes, 30 days refill.",
                    }
                ],
            ),
        ),
        errors=(),
    ),
    Action(
        name="add",
        description=_(
            "Place an order; its price is taken from your balance at once. Which parameters it needs besides "
            "service depends on the service's type: see the table of order parameters. Other refusals (a missing "
            "field, a value out of range) explain the problem in English."
        ),
        params=(
            Param("service", Need.REQUIRED, _("The service id, from services.")),
            *(Param(name, _need(name), _ORDER_FIELDS[name]) for name in order_fields()),
            Param(
                "idempotency_key",
                Need.OPTIONAL,
                _(
                    "Our extension: up to 64 characters of your choice. Sending the same add again with the same key "
                    "and parameters answers the first order and charges nothing more; with other parameters it is "
                    "refused."
                ),
            ),
        ),
        examples=(
            Example(_ADD, {"order": ORDER}),
            Example(
                {**_ADD, "runs": "5", "interval": "30"},
                {"order": ORDER},
                title=_("drip-feed, 5 runs of 1000, 30 minutes apart"),
            ),
            Example(
                {**_ADD, "idempotency_key": "checkout-8731"},
                {"order": ORDER},
                title=_("with an idempotency key, safe to send again after a timeout"),
            ),
        ),
        errors=(
            INCORRECT_SERVICE,
            INCORRECT_LINK,
            INCORRECT_QUANTITY,
            error_text(QUANTITY_BELOW_MIN),
            error_text(QUANTITY_ABOVE_MAX),
            DRIPFEED_DISABLED,
            INVALID_CHARACTERS,
            DUPLICATE_LINK,
            NOT_ENOUGH_FUNDS,
            ACCOUNT_ON_HOLD,
            error_text(UNSUPPORTED_TYPE),
            IDEMPOTENCY_REUSED,
            IDEMPOTENCY_KEY_LENGTH,
        ),
    ),
    Action(
        name="status",
        description=_(
            "The state of one order, or of several. The charge is what the order cost; remains is what is still "
            "undelivered. In a batch, each id answers on its own: an unknown id does not spoil the others."
        ),
        params=(_ORDER_ID, _ORDER_IDS),
        examples=(
            Example({"action": "status", "order": str(ORDER)}, _STATUS, title=_("one order")),
            Example(
                {"action": "status", "orders": f"{ORDER},{OTHER_ORDER},{UNKNOWN_ORDER}"},
                {
                    str(ORDER): _STATUS,
                    str(OTHER_ORDER): {**_STATUS, "status": "Completed", "remains": "0"},
                    str(UNKNOWN_ORDER): {"error": INCORRECT_ORDER},
                },
                title=_("several orders"),
            ),
        ),
        errors=(INCORRECT_ORDER, TOO_MANY_IDS),
        statuses=tuple(Order.Status.values),
    ),
    Action(
        name="refill",
        description=_(
            "Ask for a refill of a completed order, for services with refill true and within their refill period; "
            "one refill at a time per order. The answer is the refill's id: follow it with refill_status."
        ),
        params=(_ORDER_ID, _ORDER_IDS),
        examples=(
            Example({"action": "refill", "order": str(ORDER)}, {"refill": str(REFILL)}, title=_("one order")),
            Example(
                {"action": "refill", "orders": f"{OTHER_ORDER},{UNKNOWN_ORDER}"},
                [
                    {"order": OTHER_ORDER, "refill": REFILL + 1},
                    {"order": UNKNOWN_ORDER, "refill": {"error": INCORRECT_ORDER}},
                ],
                title=_("several orders"),
            ),
        ),
        errors=(INCORRECT_ORDER, REFILL_DISABLED, TOO_MANY_IDS),
    ),
    Action(
        name="refill_status",
        description=_("The state of one refill, or of several (orders is accepted instead of refills)."),
        params=(
            Param("refill", Need.OPTIONAL, _("One refill id.")),
            Param("refills", Need.OPTIONAL, _("Several refill ids, separated by commas (instead of refill).")),
        ),
        examples=(
            Example({"action": "refill_status", "refill": str(REFILL)}, {"status": "Completed"}, title=_("one refill")),
            Example(
                {"action": "refill_status", "refills": f"{REFILL},{UNKNOWN_REFILL}"},
                [
                    {"refill": REFILL, "status": "Completed"},
                    {"refill": UNKNOWN_REFILL, "status": {"error": REFILL_NOT_FOUND}},
                ],
                title=_("several refills"),
            ),
        ),
        errors=(REFILL_NOT_FOUND, TOO_MANY_IDS),
        statuses=(Refill.Status.PENDING, Refill.Status.IN_PROGRESS, *Refill.FINAL),
    ),
    Action(
        name="cancel",
        description=_(
            "Cancel orders, for services with cancel true, while they are not finished. 1 means the request was "
            "accepted: the order turns Canceled (or Partial) later, with the refund, as status shows. The answer is "
            "always a list, even for one order."
        ),
        params=(_ORDER_ID, _ORDER_IDS),
        examples=(
            Example(
                {"action": "cancel", "orders": f"{OPEN_ORDER},{UNKNOWN_ORDER}"},
                [{"order": OPEN_ORDER, "cancel": 1}, {"order": UNKNOWN_ORDER, "cancel": {"error": INCORRECT_ORDER}}],
            ),
        ),
        errors=(INCORRECT_ORDER, CANCEL_DISABLED, TOO_MANY_IDS),
    ),
)


def all_errors() -> tuple[str, ...]:
    """Every error string the API can answer, each once."""
    return tuple(dict.fromkeys((*COMMON_ERRORS, *(error for action in ACTIONS for error in action.errors))))
