"""Amounts as gateways count them: whole units for zero-decimal currencies, cents for two-decimal ones, and none
for three-decimal ones."""

from decimal import Decimal

import pytest

from billing.payments.base import UnsupportedCurrency, from_minor, round_up_to_currency, to_minor


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        (Decimal("25.75000"), "USD", 2575),
        (Decimal("0.01"), "eur", 1),
        (Decimal("1032.00000"), "JPY", 1032),
        (Decimal(50000), "KRW", 50000),
    ],
)
def test_it_counts_cents_and_whole_yen(amount, currency, minor):
    assert to_minor(amount, currency) == minor
    assert from_minor(minor, currency) == amount


def test_it_rejects_an_amount_the_currency_cannot_express():
    with pytest.raises(ValueError, match="smallest unit"):
        to_minor(Decimal("10.005"), "USD")
    with pytest.raises(ValueError, match="smallest unit"):
        to_minor(Decimal("1000.5"), "JPY")


def test_it_refuses_three_decimal_currencies():
    with pytest.raises(UnsupportedCurrency):
        to_minor(Decimal("1.000"), "KWD")
    with pytest.raises(UnsupportedCurrency):
        from_minor(1000, "BHD")


def test_it_rounds_a_fee_up_to_what_the_currency_expresses():
    assert round_up_to_currency(Decimal("30.03"), "JPY") == Decimal(31)
    assert round_up_to_currency(Decimal("0.7501"), "USD") == Decimal("0.76")
