"""The HTTP client for a provider's API v2: one method per action, typed results, typed failures.

Every failure says whether a retry is safe (see "Retry safety" in API_V2.md):
`NotSent` (nothing reached the provider), `Rejected` (a well-formed refusal: nothing was created) and
`Ambiguous` (the request went out and the answer is unusable: an `add` may exist upstream).
"""

import ssl
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Generic, TypeVar, overload

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError, NewConnectionError

from upstream.protocol import (
    BATCH_LIMIT,
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


@dataclass(frozen=True)
class _IdAction(Generic[T]):
    """An action on ids (see API_V2.md): how to send one id or a batch, and how to read what comes back."""

    action: str
    parse: Callable[[object], T]  # one id's answer
    batch: str  # the parameter of a batch call: ids joined by commas
    single: str | None = None  # the parameter of a one-id call; None: the client sends only batches
    # (id_key, value_key): a one-id reply is {value_key: answer}; a batch reply is a list of
    # {id_key: id, value_key: answer} or an object keyed by id. None: a one-id reply is the answer itself, a
    # batch reply an object keyed by the id as text whose values are the answers.
    keys: tuple[str, str] | None = None


_STATUS = _IdAction("status", parse_order_status, batch="orders", single="order")
_REFILL = _IdAction("refill", parse_int, batch="orders", single="order", keys=("order", "refill"))
_REFILL_STATUS = _IdAction("refill_status", _refill_status, batch="refills", single="refill", keys=("refill", "status"))
_CANCEL = _IdAction("cancel", parse_bool, batch="orders", keys=("order", "cancel"))


# Told of each action's outcome: None when the provider answered, else the failure about to be raised. Lets
# whoever built the client keep track of the provider's health without this module knowing where it is kept.
Outcome = Callable[[UpstreamError | None], None]


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
        on_outcome: Outcome | None = None,
    ) -> None:
        self.url = url
        self._key = key
        self._on_outcome = on_outcome
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

    @contextmanager
    def _observed(self) -> Iterator[None]:
        """Report the outcome of one action; every public method runs exactly one observed block."""
        try:
            yield
        except UpstreamError as exc:
            if self._on_outcome is not None:
                self._on_outcome(exc)
            raise
        if self._on_outcome is not None:
            self._on_outcome(None)

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
        with self._observed():
            payload = self._call("balance")
            try:
                return parse_balance(payload)
            except ParseError as exc:
                raise self._unexpected("balance", exc) from None

    def services(self) -> Catalog:
        with self._observed():
            payload = self._call("services")
            try:
                return parse_catalog(payload)
            except ParseError as exc:
                raise self._unexpected("services", exc) from None

    def add(self, service: int, **fields: str | int) -> int:
        """Place an order upstream and return its upstream id. Never retried here: see Ambiguous."""
        with self._observed():
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
        return self._one_or_many(_STATUS, ids)

    @overload
    def refill(self, ids: int) -> int: ...
    @overload
    def refill(self, ids: Iterable[int]) -> dict[int, int | ItemError]: ...
    def refill(self, ids: int | Iterable[int]) -> int | dict[int, int | ItemError]:
        """Ask for refills; the answer per order is the upstream refill id (a request, not a result)."""
        return self._one_or_many(_REFILL, ids)

    @overload
    def refill_status(self, ids: int) -> RefillStatus: ...
    @overload
    def refill_status(self, ids: Iterable[int]) -> dict[int, RefillStatus | ItemError]: ...
    def refill_status(self, ids: int | Iterable[int]) -> RefillStatus | dict[int, RefillStatus | ItemError]:
        return self._one_or_many(_REFILL_STATUS, ids)

    def cancel(self, ids: Iterable[int]) -> dict[int, bool | ItemError]:
        """Ask to cancel orders: True = request accepted (the order becomes Canceled or Partial later)."""
        return self._many(_CANCEL, ids)

    def _one_or_many(self, spec: _IdAction[T], ids: int | Iterable[int]) -> T | dict[int, T | ItemError]:
        return self._one(spec, ids) if isinstance(ids, int) else self._many(spec, ids)

    def _one(self, spec: _IdAction[T], item_id: int) -> T:
        """One id's answer; an unreadable reply is Ambiguous, a refusal Rejected."""
        with self._observed():
            assert spec.single is not None, f"{spec.action} takes a list of ids"
            payload = self._call(spec.action, **{spec.single: str(item_id)})
            try:
                if spec.keys is None:
                    return spec.parse(payload)
                if not isinstance(payload, Mapping):
                    raise ParseError(f"the {spec.action} reply is not an object")
                return spec.parse(payload.get(spec.keys[1]))
            except ParseError as exc:
                raise self._unexpected(spec.action, exc) from None

    def _many(self, spec: _IdAction[T], ids: Iterable[int]) -> dict[int, T | ItemError]:
        """Each distinct id's answer, in calls of at most BATCH_LIMIT ids; a missing or refused one is an ItemError."""
        results: dict[int, T | ItemError] = {}
        chunks = list(_chunks(ids))
        if not chunks:
            return results  # nothing was asked: no outcome to report
        with self._observed():
            for chunk in chunks:
                answer = self._answers(spec, self._call(spec.action, **{spec.batch: _joined(chunk)}))
                for item_id in chunk:
                    results[item_id] = _item(answer(item_id), spec.parse)
            return results

    def _answers(self, spec: _IdAction[T], payload: object) -> Callable[[int], object]:
        """A batch reply as a look-up of one id's answer (None where the reply has none)."""
        if spec.keys is not None:
            return self._batch_answers(spec.action, payload, *spec.keys).get
        if not isinstance(payload, Mapping):
            raise self._unexpected(spec.action, "the batch reply is not an object")
        by_text = {str(key).strip(): value for key, value in payload.items()}
        return lambda item_id: by_text.get(str(item_id))

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
