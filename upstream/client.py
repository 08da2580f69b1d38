"""The HTTP client for a provider's API v2: one method per action, typed results, typed failures.

Every failure says whether a retry is safe (see "Retry safety" in API_V2.md):
`NotSent` (nothing reached the provider), `Rejected` (a well-formed refusal: nothing was created) and
`Ambiguous` (the request went out and the answer is unusable: an `add` may exist upstream).
"""

import ssl
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TypeVar, overload

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError, NewConnectionError

from upstream.protocol import (
    Balance,
    Catalog,
    ItemError,
    OrderStatus,
    ParseError,
    RefillStatus,
    decode_body,
    error_message,
    excerpt,
    is_retryable_refusal,
    parse_balance,
    parse_bool,
    parse_catalog,
    parse_int,
    parse_order_status,
    parse_refill_state,
)

BATCH_LIMIT = 100

T = TypeVar("T")


class UpstreamError(Exception):
    """A call that did not produce a result. The message never contains the provider's key."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotSent(UpstreamError):
    """The request never reached the provider: safe to retry."""


class Rejected(UpstreamError):
    """The provider refused with `{"error": ...}`: nothing was created upstream."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class Ambiguous(UpstreamError):
    """The request went out but the reply is unusable: the action may have taken effect upstream."""


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    """Whether `kind` is anywhere in the exception's chain, args or urllib3 reasons."""
    seen: set[int] = set()
    pending: list[object] = [exc]
    while pending:
        current = pending.pop()
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        if isinstance(current, kind):
            return True
        seen.add(id(current))
        pending += [*current.args, current.__cause__, current.__context__, getattr(current, "reason", None)]
    return False


def _chunks(ids: Iterable[int]) -> Iterator[list[int]]:
    unique = list(dict.fromkeys(ids))
    for start in range(0, len(unique), BATCH_LIMIT):
        yield unique[start : start + BATCH_LIMIT]


def _joined(ids: list[int]) -> str:
    return ",".join(str(i) for i in ids)


class ApiClient:
    """One provider's API v2 endpoint, over a pooled session that never retries on its own."""

    def __init__(
        self,
        url: str,
        key: str,
        *,
        connect_timeout: float = 5,
        read_timeout: float = 30,
        session: requests.Session | None = None,
    ) -> None:
        self.url = url
        self._key = key
        self._timeout = (connect_timeout, read_timeout)
        self._session = session or requests.Session()
        # max_retries=0: urllib3 must never resend a request on its own (an `add` would be duplicated).
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=16, max_retries=0)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._session.headers["User-Agent"] = "smm-panel/1.0"

    def __repr__(self) -> str:
        return f"ApiClient(url={self.url!r})"

    def close(self) -> None:
        self._session.close()

    def _scrub(self, text: str) -> str:
        return text.replace(self._key, "***") if self._key else text

    def _post(self, action: str, params: Mapping[str, str]) -> requests.Response:
        form = {**params, "key": self._key, "action": action}
        try:
            return self._session.post(self.url, data=form, timeout=self._timeout, allow_redirects=False)
        except requests.exceptions.ConnectTimeout:
            raise NotSent(f"{action}: connection to the provider timed out") from None
        except requests.exceptions.SSLError as exc:
            # requests raises SSLError both in the handshake and while reading the reply; only a refused
            # certificate proves that nothing was sent.
            if _caused_by(exc, ssl.SSLCertVerificationError):
                raise NotSent(f"{action}: the provider's TLS certificate was refused") from None
            raise Ambiguous(f"{action}: TLS failure: {self._scrub(str(exc))}") from None
        except requests.exceptions.ReadTimeout:
            raise Ambiguous(f"{action}: no answer within {self._timeout[1]} s after the request was sent") from None
        except requests.exceptions.ConnectionError as exc:
            reason = exc.args[0] if exc.args else None
            if isinstance(reason, MaxRetryError) and isinstance(reason.reason, NewConnectionError):
                raise NotSent(f"{action}: cannot connect to the provider: {self._scrub(str(reason.reason))}") from None
            raise Ambiguous(f"{action}: connection lost after the request was sent: {self._scrub(str(exc))}") from None
        except (
            requests.exceptions.InvalidURL,
            requests.exceptions.MissingSchema,
            requests.exceptions.InvalidSchema,
        ):
            raise NotSent(f"{action}: the provider URL is not valid") from None
        except requests.exceptions.RequestException as exc:
            raise Ambiguous(f"{action}: {type(exc).__name__}: {self._scrub(str(exc))}") from None

    def _reply(self, action: str, params: Mapping[str, str]) -> object:
        """The decoded JSON reply, error or not; transport failures and non-JSON replies raise."""
        response = self._post(action, params)
        if action == "add" and response.status_code >= 500:
            # A server error may come after the order was created: never take it as a clean refusal.
            raise Ambiguous(f"add: HTTP {response.status_code}: {self._scrub(excerpt(response.text.strip(), 80))!r}")
        if 300 <= response.status_code < 400:
            location = self._scrub(response.headers.get("Location", ""))
            raise Ambiguous(f"{action}: the provider redirected to {location!r}; check the API URL")
        try:
            payload = decode_body(response.content)
        except ParseError:
            body = self._scrub(excerpt(response.text.strip(), 80))
            raise Ambiguous(f"{action}: HTTP {response.status_code} without a JSON reply: {body!r}") from None
        return payload

    def _refusal(self, payload: object) -> Rejected | None:
        message = error_message(payload)
        if message is None:
            return None
        message = self._scrub(message)
        return Rejected(message, retryable=is_retryable_refusal(message))

    def _call(self, action: str, **params: str) -> object:
        """The decoded reply of a successful call; every other outcome raises an UpstreamError."""
        payload = self._reply(action, params)
        refusal = self._refusal(payload)
        if refusal is not None:
            raise refusal
        return payload

    def _unexpected(self, action: str, problem: object) -> Ambiguous:
        return Ambiguous(f"{action}: unexpected reply: {self._scrub(str(problem))}")

    def balance(self) -> Balance:
        payload = self._call("balance")
        try:
            return parse_balance(payload)
        except ParseError as exc:
            raise self._unexpected("balance", exc) from None

    def services(self) -> Catalog:
        payload = self._call("services")
        try:
            return parse_catalog(payload)
        except ParseError as exc:
            raise self._unexpected("services", exc) from None

    def add(self, service: int, **fields: str | int) -> int:
        """Place an order upstream and return its upstream id. Never retried here: see Ambiguous."""
        params = {name: str(value) for name, value in fields.items()}
        payload = self._reply("add", {**params, "service": str(service)})
        if isinstance(payload, Mapping) and payload.get("order") not in (None, ""):
            # An order id is proof the order exists upstream, whatever else the reply says.
            try:
                return parse_int(payload["order"])
            except ParseError as exc:
                raise self._unexpected("add", exc) from None
        refusal = self._refusal(payload)
        if refusal is not None:
            raise refusal
        raise self._unexpected("add", f"no order id in {excerpt(payload)}")

    @overload
    def status(self, ids: int) -> OrderStatus: ...
    @overload
    def status(self, ids: Iterable[int]) -> dict[int, OrderStatus | ItemError]: ...
    def status(self, ids: int | Iterable[int]) -> OrderStatus | dict[int, OrderStatus | ItemError]:
        """One order's status, or many in calls of at most 100 ids, keyed by upstream id."""
        if isinstance(ids, int):
            try:
                return parse_order_status(self._call("status", order=str(ids)))
            except ParseError as exc:
                raise self._unexpected("status", exc) from None
        results: dict[int, OrderStatus | ItemError] = {}
        for chunk in _chunks(ids):
            payload = self._call("status", orders=_joined(chunk))
            if not isinstance(payload, Mapping):
                raise self._unexpected("status", "the batch reply is not an object")
            answers = {str(key).strip(): value for key, value in payload.items()}
            for order_id in chunk:
                results[order_id] = _item(answers.get(str(order_id)), parse_order_status)
        return results

    @overload
    def refill(self, ids: int) -> int: ...
    @overload
    def refill(self, ids: Iterable[int]) -> dict[int, int | ItemError]: ...
    def refill(self, ids: int | Iterable[int]) -> int | dict[int, int | ItemError]:
        """Ask for refills; the answer per order is the upstream refill id (a request, not a result)."""
        if isinstance(ids, int):
            payload = self._call("refill", order=str(ids))
            try:
                if not isinstance(payload, Mapping):
                    raise ParseError("the refill reply is not an object")
                return parse_int(payload.get("refill"))
            except ParseError as exc:
                raise self._unexpected("refill", exc) from None
        results: dict[int, int | ItemError] = {}
        for chunk in _chunks(ids):
            answers = self._batch_answers("refill", self._call("refill", orders=_joined(chunk)), "order", "refill")
            for order_id in chunk:
                results[order_id] = _item(answers.get(order_id), parse_int)
        return results

    @overload
    def refill_status(self, ids: int) -> RefillStatus: ...
    @overload
    def refill_status(self, ids: Iterable[int]) -> dict[int, RefillStatus | ItemError]: ...
    def refill_status(self, ids: int | Iterable[int]) -> RefillStatus | dict[int, RefillStatus | ItemError]:
        if isinstance(ids, int):
            payload = self._call("refill_status", refill=str(ids))
            try:
                if not isinstance(payload, Mapping):
                    raise ParseError("the refill_status reply is not an object")
                return _refill_status(payload.get("status"))
            except ParseError as exc:
                raise self._unexpected("refill_status", exc) from None
        results: dict[int, RefillStatus | ItemError] = {}
        for chunk in _chunks(ids):
            payload = self._call("refill_status", refills=_joined(chunk))
            answers = self._batch_answers("refill_status", payload, "refill", "status")
            for refill_id in chunk:
                results[refill_id] = _item(answers.get(refill_id), _refill_status)
        return results

    def cancel(self, ids: Iterable[int]) -> dict[int, bool | ItemError]:
        """Ask to cancel orders: True = request accepted (the order becomes Canceled or Partial later)."""
        results: dict[int, bool | ItemError] = {}
        for chunk in _chunks(ids):
            answers = self._batch_answers("cancel", self._call("cancel", orders=_joined(chunk)), "order", "cancel")
            for order_id in chunk:
                results[order_id] = _item(answers.get(order_id), parse_bool)
        return results

    def _batch_answers(self, action: str, payload: object, id_key: str, value_key: str) -> dict[int, object]:
        """A batch reply as {id: answer}: a list of {id_key: .., value_key: ..} or an object keyed by id."""
        answers: dict[int, object] = {}
        try:
            if isinstance(payload, Mapping):
                for key, value in payload.items():
                    answers[parse_int(key)] = value.get(value_key, value) if isinstance(value, Mapping) else value
            elif isinstance(payload, list):
                for entry in payload:
                    if isinstance(entry, Mapping) and id_key in entry:
                        answers[parse_int(entry[id_key])] = entry.get(value_key)
            else:
                raise ParseError("the batch reply is neither a list nor an object")
        except ParseError as exc:
            raise self._unexpected(action, exc) from None
        return answers


def _refill_status(value: object) -> RefillStatus:
    if not isinstance(value, str):
        raise ParseError(f"not a refill status: {excerpt(value)}")
    return RefillStatus(state=parse_refill_state(value), raw_status=value.strip())


def _item(answer: object, parse: Callable[[object], T]) -> T | ItemError:
    """One id's answer in a batch: its parsed value, or the provider's error for it."""
    if answer is None:
        return ItemError("no answer for this id")
    message = error_message(answer)
    if message is not None:
        return ItemError(message)
    try:
        return parse(answer)
    except ParseError as exc:
        return ItemError(f"unreadable answer: {exc}")
