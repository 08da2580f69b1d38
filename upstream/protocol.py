"""API v2 result types and the tolerant parsing of what real providers answer.

Providers are sloppy: numbers come as strings or numbers, with thousands separators, statuses in several
spellings, counts as "" or "Unknown". Everything here turns such values into `Decimal`, `int | None` and
enums, and raises `ParseError` for what cannot be understood.
"""

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from upstream import service_types


class ParseError(ValueError):
    """A value or a reply that cannot be understood."""


class OrderState(StrEnum):
    PENDING = "Pending"
    IN_PROGRESS = "In progress"
    PROCESSING = "Processing"
    COMPLETED = "Completed"
    PARTIAL = "Partial"
    CANCELED = "Canceled"


FINAL_ORDER_STATES = frozenset({OrderState.COMPLETED, OrderState.PARTIAL, OrderState.CANCELED})


class RefillState(StrEnum):
    PENDING = "Pending"
    IN_PROGRESS = "In progress"
    COMPLETED = "Completed"
    REJECTED = "Rejected"
    ERROR = "Error"


FINAL_REFILL_STATES = frozenset({RefillState.COMPLETED, RefillState.REJECTED, RefillState.ERROR})

# The most ids one `status`, `refill`, `refill_status` or `cancel` call may carry; more is refused (TOO_MANY_IDS).
BATCH_LIMIT = 100

# Type names as the standard spells them (the keys of the service-type table); clones vary case, spacing and
# underscores.
SERVICE_TYPES = tuple(service_types.SERVICE_TYPES)


@dataclass(frozen=True)
class Balance:
    amount: Decimal
    currency: str


@dataclass(frozen=True)
class ServiceInfo:
    service: int
    name: str
    type: str
    category: str
    rate: Decimal
    min: int
    max: int
    refill: bool = False
    cancel: bool = False
    dripfeed: bool = False
    description: str = ""
    # Fields we do not model (average_time, ...), kept as the provider sent them.
    extra: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class SkippedEntry:
    position: int
    reason: str
    excerpt: str
    # The entry's service id when it could be read: the service still exists upstream.
    service: int | None = None


@dataclass(frozen=True)
class Catalog:
    services: list[ServiceInfo]
    skipped: list[SkippedEntry]


@dataclass(frozen=True)
class OrderStatus:
    # None when the provider reports a failure of its own ("Fail", "Error"): an operator matter, not a
    # customer status.
    state: OrderState | None
    raw_status: str
    charge: Decimal | None = None
    start_count: int | None = None
    remains: int | None = None
    currency: str | None = None


@dataclass(frozen=True)
class RefillStatus:
    state: RefillState
    raw_status: str


@dataclass(frozen=True)
class ItemError:
    """One id of a batch call that the provider refused or answered with something unreadable."""

    message: str


_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
# "1,234.56": commas group thousands. "0,900" is not such a number (it may be a European 0.9).
_THOUSANDS = re.compile(r"^[+-]?[1-9]\d{0,2}(,\d{3})+(\.\d*)?$")
# Far beyond any real amount or count; a huge exponent ("1e1000000") would stall int() for minutes.
_MAX_EXPONENT = 30
_UNKNOWN_COUNTS = {"", "unknown", "null", "none", "n/a", "-"}
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", "", "null", "none"}


def parse_decimal(value: object) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise ParseError(f"not a number: {value!r}")
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, str):
        text = value.strip().replace("\u00a0", "").replace(" ", "")
        if _THOUSANDS.match(text):
            text = text.replace(",", "")
        if not _NUMBER.fullmatch(text):
            raise ParseError(f"not a number: {value!r}")
        try:
            number = Decimal(text)
        except InvalidOperation as exc:
            raise ParseError(f"not a number: {value!r}") from exc
    else:
        raise ParseError(f"not a number: {value!r}")
    if not number.is_finite():
        raise ParseError(f"not a number: {value!r}")
    if number and abs(number.adjusted()) > _MAX_EXPONENT:
        raise ParseError(f"number out of range: {excerpt(value, 40)}")
    return number


def parse_int(value: object) -> int:
    number = parse_decimal(value)
    if number != number.to_integral_value():
        raise ParseError(f"not a whole number: {value!r}")
    return int(number)


def parse_count(value: object) -> int | None:
    """A start_count or remains: empty or "Unknown" means unknown, which is not zero."""
    if value is None or (isinstance(value, str) and value.strip().lower() in _UNKNOWN_COUNTS):
        return None
    return parse_int(value)


def parse_remains(value: object) -> int | None:
    """What is left to deliver; providers report over-delivery as a negative number, which is nothing left."""
    remains = parse_count(value)
    return None if remains is None else max(remains, 0)


def parse_start_count(value: object) -> int | None:
    start_count = parse_count(value)
    return None if start_count is None or start_count < 0 else start_count


def parse_bool(value: object) -> bool:
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, int | Decimal):
        return value != 0
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise ParseError(f"not a boolean: {value!r}")


def _squash(text: str) -> str:
    return re.sub(r"[\s_-]+", "", text).lower()


_ORDER_STATES = {_squash(state.value): state for state in OrderState} | {
    "cancelled": OrderState.CANCELED,
    "refunded": OrderState.CANCELED,
}
_UPSTREAM_FAILURES = {"fail", "failed", "error"}
_REFILL_STATES = {_squash(state.value): state for state in RefillState} | {
    "canceled": RefillState.REJECTED,
    "cancelled": RefillState.REJECTED,
    "refused": RefillState.REJECTED,
    "fail": RefillState.ERROR,
    "failed": RefillState.ERROR,
}
_SERVICE_TYPES = {_squash(name): name for name in SERVICE_TYPES}


def parse_order_state(value: object) -> OrderState | None:
    """The standard status for any known spelling; None for an upstream failure ("Fail", "Error")."""
    if not isinstance(value, str):
        raise ParseError(f"not a status: {value!r}")
    key = _squash(value)
    if key in _UPSTREAM_FAILURES:
        return None
    try:
        return _ORDER_STATES[key]
    except KeyError:
        raise ParseError(f"unknown status {value!r}") from None


def parse_refill_state(value: object) -> RefillState:
    if not isinstance(value, str):
        raise ParseError(f"not a refill status: {value!r}")
    try:
        return _REFILL_STATES[_squash(value)]
    except KeyError:
        raise ParseError(f"unknown refill status {value!r}") from None


def normalize_service_type(value: str) -> str:
    """The standard spelling of a known type, or the provider's own text for a type we do not know."""
    return _SERVICE_TYPES.get(_squash(value), value.strip())


def excerpt(value: object, limit: int = 200) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _text(entry: Mapping[str, object], key: str, default: str = "") -> str:
    value = entry.get(key)
    if value is None:
        return default
    if isinstance(value, str | int | Decimal) and not isinstance(value, bool):
        return str(value).strip()
    raise ParseError(f"{key} is not text: {value!r}")


_SERVICE_KEYS = {"service", "name", "type", "category", "rate", "min", "max", "refill", "cancel", "dripfeed"}


def parse_service(entry: object) -> ServiceInfo:
    if not isinstance(entry, Mapping):
        raise ParseError("not an object")
    for key in ("service", "name", "rate", "min", "max"):
        if entry.get(key) in (None, ""):
            raise ParseError(f"{key} is missing")
    service_id, rate = parse_int(entry["service"]), parse_decimal(entry["rate"])
    minimum, maximum = parse_int(entry["min"]), parse_int(entry["max"])
    name = _text(entry, "name")
    if service_id <= 0:
        raise ParseError(f"service id {service_id} is not positive")
    if not name:
        raise ParseError("name is empty")
    if rate < 0:
        raise ParseError(f"rate {rate} is negative")
    if minimum < 0 or maximum < minimum:
        raise ParseError(f"min {minimum} and max {maximum} are not a range")
    description = _text(entry, "desc") or _text(entry, "description")
    return ServiceInfo(
        service=service_id,
        name=name,
        type=normalize_service_type(_text(entry, "type", "Default")) or "Default",
        category=_text(entry, "category"),
        rate=rate,
        min=minimum,
        max=maximum,
        refill=parse_bool(entry.get("refill")),
        cancel=parse_bool(entry.get("cancel")),
        dripfeed=parse_bool(entry.get("dripfeed")),
        description=description,
        extra={key: value for key, value in entry.items() if key not in _SERVICE_KEYS},
    )


def _entry_id(entry: object) -> int | None:
    try:
        return parse_int(entry.get("service")) if isinstance(entry, Mapping) else None
    except ParseError:
        return None


def parse_catalog(payload: object) -> Catalog:
    """The `services` reply; a malformed entry is skipped and reported, never the whole catalog."""
    if isinstance(payload, Mapping):
        # A few panels wrap the list ({"services": [...]}) or key it by id.
        inner = payload.get("services", payload.get("data"))
        entries = list(inner) if isinstance(inner, list) else list(payload.values())
    elif isinstance(payload, list):
        entries = payload
    else:
        raise ParseError("the services reply is not a list")
    services: list[ServiceInfo] = []
    skipped: list[SkippedEntry] = []
    seen: set[int] = set()
    for position, entry in enumerate(entries):
        try:
            info = parse_service(entry)
            if info.service in seen:
                raise ParseError(f"service id {info.service} appears twice")
        except ParseError as exc:
            skipped.append(
                SkippedEntry(position=position, reason=str(exc), excerpt=excerpt(entry), service=_entry_id(entry))
            )
            continue
        seen.add(info.service)
        services.append(info)
    return Catalog(services=services, skipped=skipped)


def parse_balance(payload: object) -> Balance:
    if not isinstance(payload, Mapping) or "balance" not in payload:
        raise ParseError("the balance reply has no balance")
    return Balance(amount=parse_decimal(payload["balance"]), currency=_text(payload, "currency").upper())


def parse_order_status(payload: object) -> OrderStatus:
    if not isinstance(payload, Mapping) or "status" not in payload:
        raise ParseError("no status in the reply")
    raw_status = _text(payload, "status")
    charge = None if payload.get("charge") in (None, "") else parse_decimal(payload["charge"])
    if charge is not None and charge < 0:
        raise ParseError(f"charge {charge} is negative")
    return OrderStatus(
        state=parse_order_state(raw_status),
        raw_status=raw_status,
        charge=charge,
        start_count=parse_start_count(payload.get("start_count")),
        remains=parse_remains(payload.get("remains")),
        currency=_text(payload, "currency").upper() or None,
    )


def error_message(payload: object) -> str | None:
    """The text of an `{"error": ...}` reply, or None when the reply is not an error.

    Some panels send `"error": ""` (or null, false) beside a real result: that is no error.
    """
    if not isinstance(payload, Mapping):
        return None
    message = payload.get("error")
    if message in (None, False, 0, "") or (isinstance(message, str) and not message.strip()):
        return None
    return message.strip() if isinstance(message, str) else json.dumps(message, default=str)


# Refusals that may pass on their own or once the operator acts (funds, limits, a wrong key); anything
# else, such as a bad link or quantity, will be refused again.
_RETRYABLE_REFUSALS = (
    "not enough funds",
    "insufficient",
    "low balance",
    "too many requests",
    "rate limit",
    "try again",
    "temporar",
    "maintenance",
    "overload",
    "api key",
)


def is_retryable_refusal(message: str) -> bool:
    text = message.lower()
    return any(marker in text for marker in _RETRYABLE_REFUSALS)


def decode_body(body: bytes) -> object:
    """JSON from a reply body, past a UTF-8 BOM or junk such as a PHP notice printed before it.

    Floats are read as Decimal so that no amount ever passes through binary floating point.
    """
    text = body.decode("utf-8", errors="replace").lstrip("\ufeff").strip()
    if not text:
        raise ParseError("empty body")
    decoder = json.JSONDecoder(parse_float=Decimal)
    start = 0
    for _ in range(50):
        positions = [p for p in (text.find("{", start), text.find("[", start)) if p >= 0]
        if not positions:
            break
        start = min(positions)
        try:
            value, end = decoder.raw_decode(text, start)
        except ValueError:
            start += 1
            continue
        if not text[end:].strip():
            return value
        start += 1
    raise ParseError(f"not JSON: {excerpt(text, 80)!r}")
