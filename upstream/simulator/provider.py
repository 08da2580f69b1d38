"""The API v2 brain of the simulator: answers one action's parameters with a JSON value, no HTTP involved."""

import threading
from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal
from urllib.parse import urlsplit

from upstream.messages import (
    CANCEL_DISABLED,
    DRIPFEED_DISABLED,
    INCORRECT_LINK,
    INCORRECT_ORDER,
    INCORRECT_REQUEST,
    INCORRECT_SERVICE,
    INVALID_KEY,
    NOT_ENOUGH_FUNDS,
    QUANTITY_ABOVE_MAX,
    QUANTITY_BELOW_MIN,
    REFILL_DISABLED,
    REFILL_NOT_FOUND,
    TOO_MANY_IDS,
)
from upstream.protocol import BATCH_LIMIT
from upstream.service_types import SUPPORTED_TYPES, WEB_TRAFFIC_OPTIONS, ServiceType

from .catalog import SimService
from .clock import Clock
from .state import FINAL_STATUSES, Faults, SimOrder, SimRefill, Timing

Json = dict[str, object] | list[dict[str, object]]

_CENTS5 = Decimal("0.00001")

# The types the simulator takes orders for, by their lowercased name: providers match type names
# case-insensitively. Like the panel it takes no Subscriptions, whose parameters (posts, delay, expiry) it does
# not simulate.
_ADD_TYPES = {name.lower(): kind for name, kind in SUPPORTED_TYPES.items()}


def _error(message: str) -> dict[str, object]:
    return {"error": message}


def _money(amount: Decimal) -> str:
    return str(amount.quantize(_CENTS5, rounding=ROUND_HALF_UP))


def _as_int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def _is_link(text: str) -> bool:
    text = text.strip()
    if not text or any(char.isspace() for char in text):
        return False
    parts = urlsplit(text if "://" in text else f"http://{text}")
    return parts.scheme in ("http", "https") and "." in parts.netloc


def _tokens(params: Mapping[str, str], name: str) -> list[str] | None:
    if name not in params:
        return None
    return [token.strip() for token in params[name].split(",") if token.strip()]


def _id_key(token: str) -> object:
    number = _as_int(token)
    return token if number is None else number


def _web_traffic_error(params: Mapping[str, str]) -> str | None:
    device = params.get("device")
    traffic = params.get("type_of_traffic")
    if device is not None and _as_int(device) not in range(1, 6):
        return INCORRECT_REQUEST
    if traffic is not None and _as_int(traffic) not in range(1, 4):
        return INCORRECT_REQUEST
    if traffic == "1" and not params.get("google_keyword"):
        return INCORRECT_REQUEST
    if traffic == "2" and not params.get("referring_url"):
        return INCORRECT_REQUEST
    return None


def _service_entry(service: SimService) -> dict[str, object]:
    entry: dict[str, object] = {
        "service": service.id,
        "name": service.name,
        "type": service.type,
        "category": service.category,
        "rate": str(service.rate),
        "min": str(service.min),
        "max": str(service.max),
    }
    if service.publish_flags:
        entry.update(refill=service.refill, cancel=service.cancel, dripfeed=service.dripfeed)
    entry["desc"] = service.description
    return entry


def _add_problem(kind: ServiceType, params: Mapping[str, str]) -> str | None:
    if kind.link and not _is_link(params.get("link", "")):
        return INCORRECT_LINK
    if any(not params.get(name, "").strip() for name in kind.fields):
        return INCORRECT_REQUEST
    if kind.optional == WEB_TRAFFIC_OPTIONS:
        return _web_traffic_error(params)
    return None


def _price_order(service: SimService, params: Mapping[str, str]) -> tuple[int, Decimal] | str:
    """The (total quantity, charge) of an `add`, or the error message refusing it."""
    kind = _ADD_TYPES.get(service.type.strip().lower())
    if kind is None:
        return INCORRECT_REQUEST
    if problem := _add_problem(kind, params):
        return problem
    runs = _as_int(params.get("runs")) if kind.dripfeed else None
    # Some clients send runs=undefined or runs=0 for plain orders.
    if runs is not None and runs < 1:
        runs = None
    if runs is not None and not service.dripfeed:
        return DRIPFEED_DISABLED
    if kind.package:
        return 1, service.rate
    if kind.counted is not None:
        quantity = len(_lines(params.get(kind.counted, "")))
    else:
        quantity = _as_int(params.get("quantity")) or 0
    if quantity < service.min:
        return QUANTITY_BELOW_MIN % {"min": service.min}
    if quantity > service.max:
        return QUANTITY_ABOVE_MAX % {"max": service.max}
    runs = runs or 1
    charge = (service.rate * quantity * runs / 1000).quantize(_CENTS5, rounding=ROUND_HALF_UP)
    return quantity * runs, charge


class Provider:
    """An upstream provider's account: catalog, balance, orders and refills, all guarded by `lock`."""

    def __init__(
        self,
        *,
        key: str,
        catalog: list[SimService],
        clock: Clock,
        balance: Decimal,
        currency: str,
        timing: Timing,
    ) -> None:
        self.key = key
        self.catalog = catalog
        self.clock = clock
        self.balance = balance
        self.currency = currency
        self.timing = timing
        self.faults = Faults()
        self.force_outcome: str | None = None
        self.orders: dict[int, SimOrder] = {}
        self.refills: dict[int, SimRefill] = {}
        self.lock = threading.RLock()
        self._next_order_id = 1001
        self._next_refill_id = 1

    def orders_load(self, orders: Iterable[SimOrder]) -> None:
        """Start with these orders (a benchmark's book); orders placed later get ids after theirs."""
        with self.lock:
            self.orders.update((order.id, order) for order in orders)
            self._next_order_id = max(self._next_order_id, max(self.orders, default=0) + 1)

    def answer(self, params: Mapping[str, str]) -> Json:
        if not params.get("key") or params.get("key") != self.key:
            return _error(INVALID_KEY)
        with self.lock:
            now = self.clock.now()
            match params.get("action"):
                case "balance":
                    return {"balance": _money(self.balance), "currency": self.currency}
                case "services":
                    return [_service_entry(service) for service in self.catalog]
                case "add":
                    return self._add(params, now)
                case "status":
                    return self._status(params, now)
                case "cancel":
                    return self._cancel(params, now)
                case "refill":
                    return self._refill(params, now)
                case "refill_status":
                    return self._refill_status(params, now)
                case _:
                    return _error(INCORRECT_REQUEST)

    def _add(self, params: Mapping[str, str], now: float) -> Json:
        if self.faults.out_of_funds:
            return _error(NOT_ENOUGH_FUNDS)
        service = self._service(_as_int(params.get("service")))
        if service is None:
            return _error(INCORRECT_SERVICE)
        priced = _price_order(service, params)
        if isinstance(priced, str):
            return _error(priced)
        quantity, charge = priced
        if self.balance < charge:
            return _error(NOT_ENOUGH_FUNDS)
        self.balance -= charge
        order = self._create_order(service, quantity, charge, params, now)
        return {"order": order.id}

    def _create_order(
        self, service: SimService, quantity: int, charge: Decimal, params: Mapping[str, str], now: float
    ) -> SimOrder:
        order_id = self._next_order_id
        self._next_order_id += 1
        fated = {7: "Partial", 9: "Canceled"}.get(order_id % 10, "Completed")
        order = SimOrder(
            id=order_id,
            service=service.id,
            quantity=quantity,
            charge=charge,
            start_count=order_id * 7919 % 100000,
            created_at=now,
            outcome=self.force_outcome or fated,
            params=dict(params),
        )
        self.orders[order_id] = order
        return order

    def _order_entry(self, token: str, now: float) -> dict[str, object]:
        order = self._order(token)
        if order is None:
            return _error(INCORRECT_ORDER)
        status, remains = order.status_at(now, self.timing)
        return {
            "charge": _money(order.charge),
            "start_count": str(order.start_count),
            "status": status,
            "remains": str(remains),
            "currency": self.currency,
        }

    def _status(self, params: Mapping[str, str], now: float) -> Json:
        if "order" in params:
            return self._order_entry(params["order"], now)
        tokens = _tokens(params, "orders")
        if tokens is None:
            return _error(INCORRECT_REQUEST)
        if len(tokens) > BATCH_LIMIT:
            return _error(TOO_MANY_IDS)
        return {token: self._order_entry(token, now) for token in tokens}

    def _cancel(self, params: Mapping[str, str], now: float) -> Json:
        tokens = _tokens(params, "orders") or _tokens(params, "order")
        if not tokens:
            return _error(INCORRECT_REQUEST)
        if len(tokens) > BATCH_LIMIT:
            return _error(TOO_MANY_IDS)
        return [{"order": _id_key(token), "cancel": self._cancel_one(token, now)} for token in tokens]

    def _cancel_one(self, token: str, now: float) -> object:
        order = self._order(token)
        if order is None:
            return _error(INCORRECT_ORDER)
        service = self._service(order.service)
        status, _ = order.status_at(now, self.timing)
        if service is None or not service.cancel or status in FINAL_STATUSES:
            return _error(CANCEL_DISABLED)
        order.canceled_at = now
        return 1

    def _refill(self, params: Mapping[str, str], now: float) -> Json:
        if "order" in params:
            outcome = self._refill_one(params["order"], now)
            return {"refill": str(outcome)} if isinstance(outcome, int) else outcome
        tokens = _tokens(params, "orders")
        if tokens is None:
            return _error(INCORRECT_REQUEST)
        if len(tokens) > BATCH_LIMIT:
            return _error(TOO_MANY_IDS)
        return [{"order": _id_key(token), "refill": self._refill_one(token, now)} for token in tokens]

    def _refill_one(self, token: str, now: float) -> int | dict[str, object]:
        order = self._order(token)
        if order is None:
            return _error(INCORRECT_ORDER)
        service = self._service(order.service)
        status, _ = order.status_at(now, self.timing)
        in_flight = any(
            refill.order == order.id and refill.status_at(now, self.timing) != "Completed"
            for refill in self.refills.values()
        )
        if service is None or not service.refill or status not in ("Completed", "Partial") or in_flight:
            return _error(REFILL_DISABLED)
        refill = SimRefill(id=self._next_refill_id, order=order.id, created_at=now)
        self._next_refill_id += 1
        self.refills[refill.id] = refill
        return refill.id

    def _refill_status(self, params: Mapping[str, str], now: float) -> Json:
        if "refill" in params:
            refill = self._refill_by_id(params["refill"])
            return {"status": refill.status_at(now, self.timing)} if refill else _error(REFILL_NOT_FOUND)
        tokens = _tokens(params, "refills")
        tokens = _tokens(params, "orders") if tokens is None else tokens
        if tokens is None:
            return _error(INCORRECT_REQUEST)
        if len(tokens) > BATCH_LIMIT:
            return _error(TOO_MANY_IDS)
        entries: list[dict[str, object]] = []
        for token in tokens:
            refill = self._refill_by_id(token)
            status = refill.status_at(now, self.timing) if refill else _error(REFILL_NOT_FOUND)
            entries.append({"refill": _id_key(token), "status": status})
        return entries

    def _service(self, service_id: int | None) -> SimService | None:
        return next((service for service in self.catalog if service.id == service_id), None)

    def _order(self, token: str) -> SimOrder | None:
        number = _as_int(token)
        return None if number is None else self.orders.get(number)

    def _refill_by_id(self, token: str) -> SimRefill | None:
        number = _as_int(token)
        return None if number is None else self.refills.get(number)
