"""Cryptomus: the customer pays in crypto on Cryptomus' hosted invoice page, and Cryptomus reports the invoice's
status by a signed webhook; we can also ask for it.

The protocol, as doc.cryptomus.com documents it ("Request format", "Creating an invoice", "Payment information",
"Webhook", "Payment statuses"):
- Every API call is a POST of a JSON body with the headers `merchant` (the merchant's uuid) and
  `sign = md5(base64(body) + payment API key)`, computed over the exact bytes sent.
- A webhook is a JSON body that carries its own `sign`: md5(base64(json_encode(the data without sign,
  JSON_UNESCAPED_UNICODE)) + payment API key), PHP's encoding of the data, which we rebuild to verify it.
- Cryptomus names one address its webhooks come from (91.227.144.54). Behind a proxy the address we see is not
  reliably the sender's, so it is not checked: the signature is what authenticates a webhook.
"""

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC
from decimal import Decimal, InvalidOperation
from typing import Any, NoReturn

import requests
from django.conf import settings

from billing.models import Payment
from billing.payments.base import (
    Credential,
    Event,
    Gateway,
    GatewayError,
    Notification,
    NotificationRefused,
    Refunded,
    Report,
    Started,
    from_minor,
    to_minor,
)

# Cryptomus' own default, between its limits (300 s to 12 h): long enough to pick a coin and send it.
INVOICE_LIFETIME_SECONDS = 3600

# Every status "Payment statuses" lists. Those not here (check, process, confirm_check, wrong_amount,
# wrong_amount_waiting, refund_process, refund_fail, locked, and any Cryptomus adds) leave the payment as it is.
EVENTS = {
    "paid": Event.SUCCEEDED,
    # More arrived than the invoice asked for: the wallet still gets what was asked (the rest is the operator's).
    "paid_over": Event.SUCCEEDED,
    # "cancel" is also how an invoice ends when its lifetime ran out unpaid.
    "cancel": Event.FAILED,
    "fail": Event.FAILED,
    "system_fail": Event.FAILED,
    "refund_paid": Event.REFUNDED,
}


def request_sign(body: bytes, key: str) -> str:
    """The `sign` of an API call, or of a webhook's data as PHP encodes it."""
    # MD5 because Cryptomus' documented scheme is MD5; a forger still needs the key, and the check is constant-time.
    return hashlib.md5(base64.b64encode(body) + key.encode()).hexdigest()  # noqa: S324  # nosec B324


class _Number(str):
    """A JSON number kept as the text it came as: re-encoding it gives back the bytes Cryptomus signed."""


def _php_string(text: str) -> str:
    # PHP escapes what json.dumps does, and "/" and the two line separators on top (JSON_UNESCAPED_UNICODE keeps
    # every other character as it is).
    encoded = json.dumps(text, ensure_ascii=False)
    return encoded.replace("/", "\\/").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def php_json(value: object) -> str:
    """What PHP's json_encode($value, JSON_UNESCAPED_UNICODE) prints: keys in order, no spaces."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, _Number):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _php_string(value)
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{_php_string(str(k))}:{php_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(php_json(v) for v in value) + "]"
    raise TypeError(f"{type(value).__name__} has no JSON form")


def webhook_sign(data: Mapping[str, Any], key: str) -> str:
    """The `sign` Cryptomus puts in a webhook whose other fields are `data`."""
    return request_sign(php_json(data).encode(), key)


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


def _parsed(body: bytes) -> dict[str, Any]:
    """A webhook's fields in the order they came, numbers as their text."""
    data = json.loads(body.decode(), parse_float=_Number, parse_int=_Number, parse_constant=_reject_constant)
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    return data


def order_id_of(payment: Payment) -> str:
    """Our order id for the payment's invoice. Cryptomus answers a known order id with that order's existing
    invoice, so the id must never come back: the payment's creation time, to the microsecond, keeps it unique
    when a database is reset or two panels share a merchant account. Letters, digits and dashes, as the docs ask."""
    return f"panel-{payment.pk}-{payment.created_at.astimezone(UTC):%Y%m%d%H%M%S%f}"


def _amount(value: object) -> Decimal | None:
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None


def _report(invoice: Mapping[str, Any], order_id: str | None) -> Report:
    """What an invoice (a webhook's data, or Payment information's result) says; `order_id` is the payment's
    when we know it. ValueError when the invoice lacks what every one of them has."""
    reference, status, currency = invoice.get("uuid"), invoice.get("status"), invoice.get("currency")
    amount = _amount(invoice.get("amount"))
    if not (isinstance(reference, str) and reference and isinstance(status, str) and isinstance(currency, str)):
        raise ValueError("the invoice has no uuid, status or currency")
    if amount is None:
        raise ValueError("the invoice has no amount")
    event = EVENTS.get(status, Event.PENDING)
    refusal = ""
    if order_id is not None and invoice.get("order_id") != order_id:
        refusal = (
            f"Cryptomus reported invoice {reference[:60]} ({status[:30]}) for order "
            f"{str(invoice.get('order_id'))[:60]!r}, but it is the invoice of order {order_id}: not applied"
        )
    return Report(
        reference=reference,
        event=event,
        amount=amount,
        currency=currency,
        # Cryptomus refunds an invoice once, in full: one reversal per invoice.
        reversal_reference=f"{reference}:{status}" if event == Event.REFUNDED else "",
        detail=status[:100],
        refusal=refusal,
    )


class CryptomusGateway(Gateway):
    """Invoices on Cryptomus' hosted page, paid in any coin the merchant accepts, for the amount in our currency.

    Refunds are not made from here: Cryptomus refunds to a wallet address the customer gives, which the panel
    does not know. A refund made in Cryptomus' dashboard reaches us as a `refund_paid` webhook, and that takes
    the money back from the wallet.
    """

    code = "cryptomus"
    hosted = True
    can_refund = False
    credentials = (
        Credential("merchant_id", "Merchant ID", secret=False, help_text="The merchant's uuid (Settings)."),
        Credential("payment_key", "Payment API key", help_text="The payment key, not the payout key."),
    )

    def _post(self, path: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        """Call the API and return its `result`; GatewayError for anything but a `state` 0 answer."""
        merchant, key = self.credential("merchant_id"), self.credential("payment_key")
        if not merchant or not key:
            raise GatewayError("the method has no Cryptomus merchant ID or payment key")
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = {"merchant": merchant, "sign": request_sign(body, key), "Content-Type": "application/json"}
        try:
            response = requests.post(
                settings.CRYPTOMUS_API_BASE + path, data=body, headers=headers,
                timeout=settings.PAYMENT_GATEWAY_TIMEOUT, allow_redirects=False,
            )  # fmt: skip
        except requests.RequestException as exc:
            raise GatewayError(f"Cryptomus could not be reached ({type(exc).__name__})") from None
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise GatewayError(f"Cryptomus answered {path} with HTTP {response.status_code} and no JSON object")
        result = answer.get("result")
        if response.status_code != 200 or answer.get("state") != 0 or not isinstance(result, dict):
            why = answer.get("message") or answer.get("errors") or "no reason given"
            # Cryptomus never echoes the key, but this text is shown to staff: make sure of it.
            why = str(why)[:200].replace(key, "[payment key]")
            raise GatewayError(f"Cryptomus refused {path} (HTTP {response.status_code}): {why}")
        return result

    def start(self, payment: Payment, *, return_url: str, notify_url: str) -> Started:
        try:
            amount = from_minor(to_minor(payment.total, payment.currency), payment.currency)
        except ValueError as exc:
            raise GatewayError(str(exc)) from None
        order_id = order_id_of(payment)
        invoice = self._post("/v1/payment", {
            "amount": f"{amount:f}",
            "currency": payment.currency,
            "order_id": order_id,
            "url_return": return_url,
            "url_success": return_url,
            "url_callback": notify_url,
            "lifetime": INVOICE_LIFETIME_SECONDS,
        })  # fmt: skip
        reference, url = invoice.get("uuid"), invoice.get("url")
        if not (isinstance(reference, str) and reference and isinstance(url, str) and url.startswith("http")):
            raise GatewayError("Cryptomus created an invoice without a uuid or a page")
        if (
            invoice.get("order_id") != order_id
            or _amount(invoice.get("amount")) != amount
            or invoice.get("currency") != payment.currency
        ):
            raise GatewayError(f"Cryptomus answered with another invoice than the one asked for ({reference[:60]})")
        return Started(reference=reference, redirect_url=url)

    def read(self, notification: Notification) -> list[Report]:
        key = self.credential("payment_key")
        if not key:
            raise NotificationRefused("the method has no payment key")
        try:
            data = _parsed(notification.body)
        except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            # RecursionError: nested deeper than the decoder goes ("[[[[..."), before any signature is checked.
            raise NotificationRefused("the body is not a JSON object") from None
        sign = data.pop("sign", None)
        if not isinstance(sign, str):
            raise NotificationRefused("the body has no sign")
        try:
            expected = webhook_sign(data, key)
        except UnicodeEncodeError:
            raise NotificationRefused("the body holds text that is not UTF-8") from None
        if not hmac.compare_digest(expected.encode(), sign.encode(errors="replace")):
            raise NotificationRefused("the sign does not verify with this method's payment key")
        if data.get("type") != "payment":
            return []  # a static wallet's deposit: the panel creates none
        reference = data.get("uuid")
        payment = (
            Payment.objects.filter(gateway=self.code, reference=reference).first()
            if isinstance(reference, str) and reference
            else None
        )
        try:
            return [_report(data, order_id_of(payment) if payment is not None else None)]
        except ValueError as exc:
            raise NotificationRefused(f"the webhook cannot be read: {exc}") from None

    def fetch(self, payment: Payment) -> Report:
        invoice = self._post("/v1/payment/info", {"uuid": payment.reference})
        try:
            return _report(invoice, order_id_of(payment))
        except ValueError as exc:
            raise GatewayError(f"Cryptomus' payment information cannot be read: {exc}") from None

    def refund(self, payment: Payment, amount: Decimal) -> Refunded:
        raise GatewayError(
            "Cryptomus refunds to a wallet address the customer gives: refund in Cryptomus' dashboard, and its "
            "refund_paid notification takes the money back here."
        )
