"""Stripe webhook events built by hand, shaped like Stripe's documented ones, and signed as Stripe signs them: for
the events localstripe never sends (refunds, disputes, cancellations) and for forged or altered ones."""

import hashlib
import hmac
import json
import secrets
import time
from typing import Any

API_VERSION = "2026-10-28.endive"


def sign_event(body: bytes, secret: str, timestamp: int | None = None) -> str:
    """The Stripe-Signature header of `body`: `t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">`."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    signature = hmac.new(secret.encode(), b"%d.%s" % (timestamp, body), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={signature}"


def _id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


def event(kind: str, obj: dict[str, Any]) -> bytes:
    """The body of a webhook: an event of that type about `obj` (its data.object)."""
    return json.dumps({
        "id": _id("evt"), "object": "event", "api_version": API_VERSION, "created": int(time.time()),
        "data": {"object": obj}, "livemode": False, "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None}, "type": kind,
    }).encode()  # fmt: skip


def payment_intent(
    intent_id: str, amount: int, currency: str = "usd", *, status: str = "succeeded", **fields: Any
) -> dict[str, Any]:
    """A PaymentIntent object (amount in the currency's smallest unit, currency lower-case as Stripe gives it)."""
    return {
        "id": intent_id, "object": "payment_intent", "amount": amount,
        "amount_received": amount if status == "succeeded" else 0, "currency": currency, "status": status,
        "client_secret": f"{intent_id}_secret_{secrets.token_hex(8)}", "metadata": {}, "livemode": False,
        "cancellation_reason": None, "last_payment_error": None, "latest_charge": None,
        "payment_method_types": ["card"], "created": int(time.time()),
    } | fields  # fmt: skip


def payment_intent_succeeded(intent_id: str, amount: int, currency: str = "usd", **fields: Any) -> bytes:
    return event("payment_intent.succeeded", payment_intent(intent_id, amount, currency, **fields))


def payment_intent_canceled(intent_id: str, amount: int, currency: str = "usd") -> bytes:
    obj = payment_intent(intent_id, amount, currency, status="canceled", cancellation_reason="abandoned")
    return event("payment_intent.canceled", obj)


def payment_intent_payment_failed(intent_id: str, amount: int, currency: str = "usd") -> bytes:
    error = {"code": "card_declined", "decline_code": "generic_decline", "message": "Your card was declined.",
             "type": "card_error"}  # fmt: skip
    obj = payment_intent(intent_id, amount, currency, status="requires_payment_method", last_payment_error=error)
    return event("payment_intent.payment_failed", obj)


def refund(
    refund_id: str, intent_id: str, amount: int, currency: str = "usd", status: str = "succeeded"
) -> dict[str, Any]:
    return {
        "id": refund_id, "object": "refund", "amount": amount, "currency": currency, "status": status,
        "payment_intent": intent_id, "charge": _id("ch"), "created": int(time.time()), "metadata": {},
        "reason": "requested_by_customer",
    }  # fmt: skip


def charge_refunded(intent_id: str, amount: int, refunds: list[dict[str, Any]], currency: str = "usd") -> bytes:
    """A charge.refunded event whose charge lists `refunds` (older API versions; newer ones list none)."""
    refunded = sum(r["amount"] for r in refunds)
    obj = {
        "id": _id("ch"), "object": "charge", "amount": amount, "amount_captured": amount,
        "amount_refunded": refunded, "currency": currency, "payment_intent": intent_id, "paid": True,
        "refunded": refunded >= amount, "status": "succeeded",
        "refunds": {"object": "list", "data": refunds, "has_more": False, "total_count": len(refunds)},
    }  # fmt: skip
    return event("charge.refunded", obj)


def refund_event(kind: str, refund_obj: dict[str, Any]) -> bytes:
    """refund.created or refund.updated about a refund object."""
    return event(kind, refund_obj)


def charge_dispute_created(
    dispute_id: str,
    intent_id: str,
    amount: int,
    currency: str = "usd",
    *,
    kind: str = "charge.dispute.created",
    status: str = "needs_response",
) -> bytes:
    """A dispute event (created, funds_withdrawn, funds_reinstated); an inquiry has a status warning_*."""
    obj = {
        "id": dispute_id, "object": "dispute", "amount": amount, "currency": currency, "charge": _id("ch"),
        "payment_intent": intent_id, "reason": "fraudulent", "status": status, "is_charge_refundable": False,
        "created": int(time.time()), "livemode": False,
    }  # fmt: skip
    return event(kind, obj)
