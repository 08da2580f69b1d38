"""Payments through gateways: one module per gateway (stripe, cryptomus) behind the interface of `base`, and the
services that start payments and apply what gateways report, crediting each payment exactly once."""

from django.utils.module_loading import import_string

from billing.models import PaymentMethod
from billing.payments.base import Gateway

# Gateway code -> its class. Manual methods have none: an operator approves their deposit requests.
GATEWAY_CLASSES = {
    PaymentMethod.Gateway.STRIPE: "billing.payments.stripe.StripeGateway",
    PaymentMethod.Gateway.CRYPTOMUS: "billing.payments.cryptomus.CryptomusGateway",
}


def gateway_class(code: str) -> type[Gateway]:
    cls: type[Gateway] = import_string(GATEWAY_CLASSES[code])  # type: ignore[index]
    return cls


def gateway_of(method: PaymentMethod) -> Gateway:
    """The gateway of an automatic method, bound to its credentials (KeyError for a manual method)."""
    return gateway_class(method.gateway)(method)
