"""Stripe: the customer pays on our page with the Payment Element (one PaymentIntent per payment); Stripe tells us
through signed webhooks, we can ask it for a PaymentIntent's state, and refunds go through its API.

Keys never leave this module: Stripe's own error messages can quote part of one, so errors are rewritten.
"""

import re
from decimal import Decimal
from typing import Any

import stripe
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

# Anything shaped like a Stripe key or its masked form ("sk_test_****1234"): such text is never passed on.
KEY_LIKE = re.compile(r"(sk|pk|rk|whsec)_|\*{3}", re.IGNORECASE)


def _gateway_error(exc: stripe.StripeError, *credentials: str) -> GatewayError:
    """A GatewayError that says what Stripe answered (its error class, HTTP status, code and, when it holds no
    key-like text, its message) and never a key."""
    parts = [f"Stripe {type(exc).__name__}"]
    if exc.http_status:
        parts.append(f"HTTP {exc.http_status}")
    if exc.code and not KEY_LIKE.search(exc.code):
        parts.append(exc.code)
    text = exc.user_message or ""
    if text and not KEY_LIKE.search(text) and not any(c and (c in text or c[-4:] in text) for c in credentials):
        parts.append(text[:200])
    return GatewayError(": ".join(parts))


class StripeGateway(Gateway):
    code = "stripe"
    hosted = False
    can_refund = True
    credentials = (
        Credential("secret_key", "Secret key"),
        Credential("publishable_key", "Publishable key", secret=False),
        Credential("webhook_secret", "Webhook signing secret"),
    )

    def _client(self) -> stripe.StripeClient:
        # A client per call, bound to this method's key: the SDK's global api_key would be shared by all methods.
        http_client = stripe.RequestsClient(timeout=settings.PAYMENT_GATEWAY_TIMEOUT)
        if settings.STRIPE_API_BASE:
            return stripe.StripeClient(
                self.credential("secret_key"), base_addresses={"api": settings.STRIPE_API_BASE}, http_client=http_client
            )
        return stripe.StripeClient(self.credential("secret_key"), http_client=http_client)

    def _error(self, exc: stripe.StripeError) -> GatewayError:
        return _gateway_error(exc, *(self.credential(c.name) for c in self.credentials if c.secret))

    @staticmethod
    def _idempotency_key(payment: Payment, *what: object) -> str:
        # With the creation time besides the id: a test database reset against the same Stripe account reuses ids,
        # and Stripe would answer a new payment with the old one's PaymentIntent for a day.
        return "-".join(str(part) for part in ("panel-payment", payment.pk, int(payment.created_at.timestamp()), *what))

    def start(self, payment: Payment, *, return_url: str, notify_url: str) -> Started:
        try:
            intent = self._client().v1.payment_intents.create(
                params={
                    "amount": to_minor(payment.total, payment.currency),
                    "currency": payment.currency.lower(),
                    # Cards only. The API version this SDK pins (2026-10-28.endive) refuses payment_method_types,
                    # the one word localstripe knows: the tests' launcher of it translates.
                    "allowed_payment_method_types": ["card"],
                    "metadata": {"payment_id": str(payment.pk)},
                },
                options={"idempotency_key": self._idempotency_key(payment, "start")},
            )
        except stripe.StripeError as exc:
            raise self._error(exc) from None
        return Started(reference=intent.id, client_secret=intent.client_secret or "")

    def read(self, notification: Notification) -> list[Report]:
        secret = self.credential("webhook_secret")
        header = notification.headers.get("stripe-signature", "")
        if not secret:
            raise NotificationRefused("this method has no webhook signing secret")
        if not header:
            raise NotificationRefused("no Stripe-Signature header")
        try:
            event = stripe.Webhook.construct_event(notification.body, header, secret)
        except stripe.SignatureVerificationError:
            raise NotificationRefused("the Stripe-Signature does not verify (another secret, or too old)") from None
        except ValueError:
            raise NotificationRefused("the body is not a Stripe event") from None
        try:
            return _reports(event.type, event.to_dict()["data"]["object"])
        except (KeyError, TypeError, ValueError, AttributeError):
            raise NotificationRefused(f"a {event.type[:50]} event we cannot read") from None

    def fetch(self, payment: Payment) -> Report:
        if not payment.reference:
            raise GatewayError("the payment has no PaymentIntent at Stripe")
        try:
            intent = self._client().v1.payment_intents.retrieve(payment.reference)
        except stripe.StripeError as exc:
            raise self._error(exc) from None
        currency = intent.currency.upper()
        # Through to_dict(): fields Stripe always sends are missing at localstripe (amount_received, for one).
        fields = intent.to_dict()
        if intent.status == "succeeded":
            amount, currency = _amount(fields, "amount_received", "amount")
            return Report(intent.id, Event.SUCCEEDED, amount, currency, detail=intent.status)
        if intent.status == "canceled":
            reason = fields.get("cancellation_reason") or "no reason given"
            return Report(intent.id, Event.FAILED, None, currency, detail=f"canceled ({reason})")
        return Report(intent.id, Event.PENDING, None, currency, detail=intent.status)

    def refund(self, payment: Payment, amount: Decimal) -> Refunded:
        if not payment.reference:
            raise GatewayError("the payment has no PaymentIntent at Stripe")
        minor = to_minor(amount, payment.currency)
        # The number of reversals so far tells a second refund of the same amount from a retry of the first.
        key = self._idempotency_key(payment, "refund", payment.reversals.count(), minor)
        try:
            refund = self._client().v1.refunds.create(
                params={"payment_intent": payment.reference, "amount": minor}, options={"idempotency_key": key}
            )
        except stripe.StripeError as exc:
            raise self._error(exc) from None
        if refund.status in ("failed", "canceled"):
            raise GatewayError(f"Stripe did not make refund {refund.id}: {refund.status}")
        # "pending" (some cards, bank debits): the wallet is debited when refund.updated says it succeeded.
        return Refunded(refund.id, done=refund.status == "succeeded")


def _amount(obj: dict[str, Any], field: str, fallback: str = "") -> tuple[Decimal, str]:
    currency = str(obj["currency"]).upper()
    minor = obj.get(field) or obj[fallback or field]
    return from_minor(int(minor), currency), currency


def _reports(kind: str, obj: dict[str, Any]) -> list[Report]:
    """What a Stripe event (its type and data.object) tells about our PaymentIntents."""
    if kind == "payment_intent.succeeded":
        amount, currency = _amount(obj, "amount_received", "amount")
        return [Report(obj["id"], Event.SUCCEEDED, amount, currency, detail="succeeded")]
    if kind == "payment_intent.canceled":
        reason = obj.get("cancellation_reason") or "no reason given"
        return [Report(obj["id"], Event.FAILED, None, obj["currency"].upper(), detail=f"canceled ({reason})")]
    if kind == "payment_intent.payment_failed":
        # Not a failure of the payment: the customer may try another card on the same PaymentIntent.
        error = obj.get("last_payment_error") or {}
        detail = f"attempt failed: {error.get('message') or error.get('code') or 'no reason given'}"
        return [Report(obj["id"], Event.PENDING, None, obj["currency"].upper(), detail=detail[:500])]
    if kind == "charge.refunded":
        # Since API version 2022-11-15 a charge lists no refunds unless expanded: refund.* events report them then.
        if not obj.get("payment_intent"):
            return []
        refunds = (obj.get("refunds") or {}).get("data") or []
        return [_refund_report(obj["payment_intent"], r) for r in refunds if r.get("status") == "succeeded"]
    if kind in ("refund.created", "refund.updated"):
        if not obj.get("payment_intent") or obj.get("status") != "succeeded":
            return []
        return [_refund_report(obj["payment_intent"], obj)]
    if kind in ("charge.dispute.created", "charge.dispute.funds_withdrawn"):
        # An inquiry (status warning_needs_response, ...) takes no money: only a dispute that does is reversed,
        # once per dispute id whichever of the two events comes first.
        if not obj.get("payment_intent") or str(obj.get("status", "")).startswith("warning_"):
            return []
        amount, currency = _amount(obj, "amount")
        return [Report(obj["payment_intent"], Event.DISPUTED, amount, currency, reversal_reference=obj["id"],
                       detail=f"disputed ({obj.get('reason') or 'no reason given'})")]  # fmt: skip
    if kind == "charge.dispute.funds_reinstated":
        if not obj.get("payment_intent"):
            return []
        amount, currency = _amount(obj, "amount")
        return [Report(obj["payment_intent"], Event.REINSTATED, amount, currency, reversal_reference=obj["id"],
                       detail="dispute won: funds reinstated")]  # fmt: skip
    return []


def _refund_report(payment_intent: str, refund: dict[str, Any]) -> Report:
    amount, currency = _amount(refund, "amount")
    return Report(payment_intent, Event.REFUNDED, amount, currency, reversal_reference=refund["id"], detail="refunded")
