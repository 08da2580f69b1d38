"""The one pricing function and the one rule of what can be sold: pure functions of values, no models.

What a customer pays per 1000 for a service, what it costs us, and why a price must not be sold.
"""

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from panel.money import percent_factor, rate_up

# Beyond what the columns hold, or than any real price: such a rate is no usable price.
MAX_RATE = Decimal(10) ** 12


@dataclass(frozen=True)
class Price:
    rate: Decimal  # per 1000, panel currency, rounded up to 6 places
    cost: Decimal  # per 1000, panel currency, rounded up to 6 places
    markup_percent: Decimal | None  # None when an admin fixed the price

    @property
    def below_cost(self) -> bool:
        return self.rate < self.cost

    @property
    def margin_percent(self) -> Decimal | None:
        if not self.cost:
            return None
        return ((self.rate - self.cost) / self.cost * 100).quantize(Decimal("0.1"))


class SaleProblem(StrEnum):
    """Why a service must not be sold; the values are Service.DisabledReason's."""

    NO_PRICE = "no_price"
    MISSING_UPSTREAM = "missing_upstream"
    BELOW_COST = "below_cost"


def first_markup(*markups: Decimal | None, default: Decimal) -> Decimal:
    """The first markup set (service, category, provider); else the panel's default."""
    return next((markup for markup in markups if markup is not None), default)


def price_of(
    *, upstream_rate: Decimal, exchange_rate: Decimal, markup_percent: Decimal, fixed_rate: Decimal | None
) -> Price:
    """Customer rate = upstream rate × exchange rate × (1 + markup %), or the admin's fixed price."""
    cost = upstream_rate * exchange_rate
    if fixed_rate is not None:
        return Price(rate=fixed_rate, cost=rate_up(cost), markup_percent=None)
    return Price(rate=rate_up(cost * percent_factor(markup_percent)), cost=rate_up(cost), markup_percent=markup_percent)


def sale_problem(*, price: Price, missing_upstream: bool) -> SaleProblem | None:
    """The one rule of what may be sold (fail closed): a usable price, listed upstream, not below cost."""
    if price.rate <= 0 or price.rate >= MAX_RATE:
        return SaleProblem.NO_PRICE
    if missing_upstream:
        return SaleProblem.MISSING_UPSTREAM
    if price.below_cost:
        return SaleProblem.BELOW_COST
    return None


def discounted_rate(*, rate: Decimal, cost: Decimal, discount_percent: Decimal) -> Decimal:
    """A customer's rate per 1000: the service's rate less their discount, never below cost."""
    return max(rate_up(rate * percent_factor(-discount_percent)), rate_up(cost))
