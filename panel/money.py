"""The one place that quantizes money: amounts to 5 places, rates per 1000 to 6.

The panel rounds in its own favour by the last digit only: what a customer pays rounds up, what the panel
gives back rounds down, so no sequence of charges and refunds can lose money to rounding.
"""

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

AMOUNT_PLACES = 5
RATE_PLACES = 6
AMOUNT_QUANTUM = Decimal(1).scaleb(-AMOUNT_PLACES)
RATE_QUANTUM = Decimal(1).scaleb(-RATE_PLACES)
# Database columns: up to 10^12 in the currency's units is far beyond any wallet or price.
AMOUNT_DIGITS = 12 + AMOUNT_PLACES
RATE_DIGITS = 12 + RATE_PLACES


def charge_amount(value: Decimal) -> Decimal:
    """An amount the customer pays, rounded up to 5 places."""
    return value.quantize(AMOUNT_QUANTUM, rounding=ROUND_CEILING)


def refund_amount(value: Decimal) -> Decimal:
    """An amount given back to the customer, rounded down to 5 places."""
    return value.quantize(AMOUNT_QUANTUM, rounding=ROUND_FLOOR)


def commission_amount(value: Decimal) -> Decimal:
    """A commission the panel pays a referrer, rounded down to 5 places."""
    return value.quantize(AMOUNT_QUANTUM, rounding=ROUND_FLOOR)


def taken_back_amount(value: Decimal) -> Decimal:
    """What the panel takes back of what it paid (a commission a later refund reverses), rounded up to 5 places."""
    return value.quantize(AMOUNT_QUANTUM, rounding=ROUND_CEILING)


def rate_up(value: Decimal) -> Decimal:
    """A price per 1000, rounded up to 6 places: selling prices and the costs they are compared with."""
    return value.quantize(RATE_QUANTUM, rounding=ROUND_CEILING)


def percent_factor(percent: Decimal) -> Decimal:
    """1 + percent/100, exactly."""
    return 1 + percent / 100
