"""What an order needs by service type (API_V2.md's `add` table): checked here, before any money moves."""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.utils.translation import gettext_noop

from catalog.models import Service
from panel.errors import ApplicationError
from panel.text import storable
from upstream.messages import (
    DRIPFEED_DISABLED,
    INCORRECT_LINK,
    INCORRECT_QUANTITY,
    INVALID_CHARACTERS,
    QUANTITY_ABOVE_MAX,
    QUANTITY_BELOW_MIN,
    UNSUPPORTED_TYPE,
)
from upstream.service_types import LINE_FIELDS, ServiceType, service_type


class OrderError(ApplicationError):
    """A refused order; the message is the exact API v2 error string where the protocol defines one."""


@dataclass(frozen=True)
class OrderSpec:
    """A valid order's upstream parameters and how many units it costs."""

    link: str
    quantity: int  # in total, every run included; 1 for a package
    runs: int | None = None
    interval: int | None = None
    fields: dict[str, str] = field(default_factory=dict)
    package: bool = False


MISSING_FIELD = {
    "comments": gettext_noop("Enter the comments, one per line."),
    "usernames": gettext_noop("Enter the usernames, one per line."),
    "hashtags": gettext_noop("Enter the hashtags, one per line."),
    "hashtag": gettext_noop("Enter the hashtag."),
    "username": gettext_noop("Enter the username."),
    "media": gettext_noop("Enter the media link."),
    "answer_number": gettext_noop("Enter the answer number."),
    "groups": gettext_noop("Enter the groups, one per line."),
}
# ASCII only: `\d` and int() also take "１００" and "١٠٠", which no upstream provider reads as a number.
_DIGITS = re.compile(r"[0-9]{1,12}")
MAX_RUNS = 1000
MAX_INTERVAL = 60 * 24 * 30  # minutes
MAX_LINE = 2000  # characters in a link, and in each line of a comment, a username, a keyword...


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def clean_link(value: str) -> str:
    link = value.strip()
    if not link or len(link) > MAX_LINE or any(char.isspace() or not char.isprintable() for char in link):
        raise OrderError(INCORRECT_LINK, field="link")
    try:
        # Brackets that are not an IPv6 address ("https://[]", "http://[::1") make urlsplit or hostname raise.
        parts = urlsplit(link if "://" in link else f"https://{link}")
        host = parts.hostname or ""
    except ValueError:
        raise OrderError(INCORRECT_LINK, field="link") from None
    if parts.scheme not in ("http", "https") or "." not in host or host.startswith(".") or host.endswith("."):
        raise OrderError(INCORRECT_LINK, field="link")
    return link


def _field_text(name: str, text: str) -> str:
    """A type's own field as it is stored and sent upstream: storable, and no line longer than a link may be."""
    if not storable(text):
        raise OrderError(INVALID_CHARACTERS, field=name)
    if any(len(line) > MAX_LINE for line in text.split("\n")):
        raise OrderError(gettext_noop("At most %(max)s characters per line."), field=name, max=MAX_LINE)
    return text


def _whole(value: str | None) -> int | None:
    text = (value or "").strip()
    return int(text) if _DIGITS.fullmatch(text) else None


def _within(service: Service, quantity: int) -> None:
    if quantity < service.min_quantity:
        raise OrderError(QUANTITY_BELOW_MIN, field="quantity", min=service.min_quantity)
    if quantity > service.max_quantity:
        raise OrderError(QUANTITY_ABOVE_MAX, field="quantity", max=service.max_quantity)


def _web_traffic(params: Mapping[str, str]) -> None:
    device, traffic = params.get("device"), params.get("type_of_traffic")
    if device and _whole(device) not in range(1, 6):
        raise OrderError(gettext_noop("The device must be 1 to 5."), field="device")
    if traffic and _whole(traffic) not in range(1, 4):
        raise OrderError(
            gettext_noop("The type of traffic must be 1 (keyword), 2 (referrer) or 3 (blank)."), field="type_of_traffic"
        )
    if traffic == "1" and not params.get("google_keyword", "").strip():
        raise OrderError(gettext_noop("Enter the Google keyword for keyword traffic."), field="google_keyword")
    if traffic == "2" and not params.get("referring_url", "").strip():
        raise OrderError(gettext_noop("Enter the referring URL for referrer traffic."), field="referring_url")


def _type(service: Service) -> ServiceType:
    kind = service_type(service.type)
    if kind is None:
        raise OrderError(UNSUPPORTED_TYPE, field="service", type=service.type)
    return kind


def order_spec(service: Service, params: Mapping[str, str], *, draft: bool = False) -> OrderSpec:
    """Check an order for this service; raise OrderError with the protocol's message for the first problem.

    A draft (an order being typed) is checked only for what sets its price: quantity, lines and runs.
    """
    kind = _type(service)
    link = clean_link(params.get("link", "")) if kind.link and not draft else ""
    fields: dict[str, str] = {}
    for name in kind.fields:
        text = params.get(name, "").replace("\r\n", "\n").strip()
        if not text and not draft:
            raise OrderError(MISSING_FIELD[name], field=name)
        fields[name] = _field_text(name, "\n".join(_lines(text)) if name in LINE_FIELDS else text)
    for name in kind.optional:
        if params.get(name, "").strip():
            fields[name] = _field_text(name, params[name].strip())
    if not draft:
        _web_traffic(fields)
    if "answer_number" in fields and not draft and _whole(fields["answer_number"]) is None:
        raise OrderError(gettext_noop("The answer number must be a whole number."), field="answer_number")

    # Some clients send runs=undefined: anything but a number is no drip-feed. Digits of another script ("２")
    # are a number we do not take, not an absent one: dropping them would place one run instead of two.
    if (given_runs := (params.get("runs") or "").strip()).isdigit() and not given_runs.isascii():
        raise OrderError(gettext_noop("Write the number of runs with the digits 0 to 9."), field="runs")
    runs = _whole(params.get("runs"))
    runs = runs if runs and runs > 0 else None
    interval = _whole(params.get("interval")) if runs else None
    if runs is not None:
        if not (kind.dripfeed and service.offers_dripfeed):
            raise OrderError(DRIPFEED_DISABLED, field="runs")
        if not interval:
            raise OrderError(gettext_noop("Enter the interval between runs, in minutes."), field="interval")
        if runs > MAX_RUNS or interval > MAX_INTERVAL:
            raise OrderError(
                gettext_noop("At most %(runs)s runs, at most %(minutes)s minutes apart."),
                field="runs" if runs > MAX_RUNS else "interval",
                runs=MAX_RUNS,
                minutes=MAX_INTERVAL,
            )

    if kind.package:
        return OrderSpec(link=link, quantity=1, fields=fields, package=True)
    if kind.counted:
        quantity = len(_lines(fields[kind.counted]))
    else:
        given = _whole(params.get("quantity"))
        if given is None:
            raise OrderError(INCORRECT_QUANTITY, field="quantity")
        quantity = given
    _within(service, quantity)
    if runs is not None:
        return OrderSpec(link=link, quantity=quantity * runs, runs=runs, interval=interval, fields=fields)
    return OrderSpec(link=link, quantity=quantity, fields=fields)
