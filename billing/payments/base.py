"""What every payment gateway implements, and what it reports back: framework-light, so that a gateway is one
module that turns our Payment into the gateway's requests and the gateway's answers into a Report.

A gateway never moves money itself: billing.payments.services applies what it reports, after checking it.
"""

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from billing.models import Payment, PaymentMethod

# ISO 4217 currencies that gateways count in whole units (Stripe's list): 1000 JPY is sent as 1000, not 100000.
ZERO_DECIMAL = frozenset(
    "BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF".split()  # noqa: SIM905
)
# Those with three decimals (BHD, KWD, ...) have rules of their own at each gateway: the panel refuses them.
THREE_DECIMAL = frozenset("BHD IQD JOD KWD LYD OMR TND".split())  # noqa: SIM905


class UnsupportedCurrency(ValueError):
    pass


def currency_places(currency: str) -> int:
    """How many decimals an amount has in this currency at a gateway: 0 for zero-decimal ones, else 2."""
    currency = currency.upper()
    if currency in THREE_DECIMAL:
        raise UnsupportedCurrency(f"{currency} has three decimals: no gateway here takes it")
    return 0 if currency in ZERO_DECIMAL else 2


def currency_quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-currency_places(currency))


def to_minor(amount: Decimal, currency: str) -> int:
    """An amount in the currency's smallest unit, as gateways take it (cents; whole yen). It must be exact."""
    minor = amount.scaleb(currency_places(currency))
    if minor != minor.to_integral_value():
        raise ValueError(f"{amount} {currency} is not a whole number of the currency's smallest unit")
    return int(minor)


def from_minor(minor: int, currency: str) -> Decimal:
    return Decimal(minor).scaleb(-currency_places(currency))


def round_up_to_currency(amount: Decimal, currency: str) -> Decimal:
    """A fee the customer pays, rounded up to what the currency can express (a whole yen, a cent)."""
    return amount.quantize(currency_quantum(currency), rounding=ROUND_CEILING)


class Event(StrEnum):
    """What a gateway says happened to a payment."""

    PENDING = "pending"  # still waiting for the customer or the network
    SUCCEEDED = "succeeded"  # the money is ours: credit it
    FAILED = "failed"  # it will not be paid (canceled, expired)
    REFUNDED = "refunded"  # money went back to the customer
    DISPUTED = "disputed"  # the customer's bank took it back (a chargeback)
    REINSTATED = "reinstated"  # the bank gave a disputed payment back: operators decide what the wallet gets


@dataclass(frozen=True)
class Report:
    """One fact about one payment, from a verified notification or a fetch of the payment's state."""

    reference: str  # the gateway's id of the payment, as Payment.reference holds it
    event: Event
    # For SUCCEEDED: what was paid; for REFUNDED and DISPUTED: what was taken back. In currency units.
    amount: Decimal | None
    currency: str
    # For REFUNDED and DISPUTED: the gateway's id of the refund or dispute (one reversal per id).
    reversal_reference: str = ""
    # The gateway's own word for the state, for operators.
    detail: str = ""
    # Set when a verified report must still not be applied (it names another order than the payment's): why, for
    # the payment's problem.
    refusal: str = ""


@dataclass(frozen=True)
class Refunded:
    """A refund the gateway accepted: its id, and whether the money has gone back already (else a notification
    tells when it has, and that takes it from the wallet)."""

    reference: str
    done: bool


@dataclass(frozen=True)
class Started:
    """What the customer's browser needs to pay a payment the gateway has just created."""

    reference: str
    client_secret: str = ""  # Stripe: the PaymentIntent's client secret, for the Payment Element
    redirect_url: str = ""  # hosted-page gateways: where the customer pays


class GatewayError(Exception):
    """The gateway could not be reached or refused the call. The message is safe to show to staff: it never
    holds a secret."""


class NotificationRefused(Exception):
    """A notification we will not act on: its signature does not verify, or it cannot be read. The reason is for
    the log (no secret in it)."""


@dataclass(frozen=True)
class Credential:
    """One key a gateway needs: `name` in PaymentMethod.credentials, `flag` of add_payment_method."""

    name: str
    label: str
    secret: bool = True
    help_text: str = ""

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


@dataclass(frozen=True)
class Notification:
    """An HTTP request a gateway sent us: its raw body and headers (lower-case names)."""

    body: bytes
    headers: Mapping[str, str]
    remote_address: str = ""


class Gateway(ABC):
    """One payment gateway, bound to one payment method and its credentials. Every method may raise GatewayError."""

    code: ClassVar[str]
    credentials: ClassVar[tuple[Credential, ...]]
    # The customer pays on our page (an element of the gateway's script) or on the gateway's own page.
    hosted: ClassVar[bool]
    # Whether refund() can give money back through the gateway's API.
    can_refund: ClassVar[bool] = True

    def __init__(self, method: "PaymentMethod") -> None:
        self.method = method

    def credential(self, name: str) -> str:
        value = self.method.credentials.get(name, "")
        return value if isinstance(value, str) else ""

    @abstractmethod
    def start(self, payment: "Payment", *, return_url: str, notify_url: str) -> Started:
        """Create the payment at the gateway for payment.total in payment.currency."""

    @abstractmethod
    def read(self, notification: Notification) -> list[Report]:
        """Verify a notification exactly as the gateway documents (raise NotificationRefused when it does not
        verify) and read it: what it reports (often one fact; none for an event we do not track; several when
        one event lists several refunds, each applied once by its reversal_reference)."""

    @abstractmethod
    def fetch(self, payment: "Payment") -> Report:
        """Ask the gateway for the payment's state now."""

    @abstractmethod
    def refund(self, payment: "Payment", amount: Decimal) -> Refunded:
        """Give `amount` (currency units, at most what was paid) back to the customer."""

    @classmethod
    def webhook_accepted(cls) -> tuple[int, str]:
        """What the gateway expects to be answered when a notification was handled (status, body)."""
        return 200, ""
