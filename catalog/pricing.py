"""The one pricing function: what a customer pays per 1000 for a service, and what it costs us."""

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from django.conf import settings

from panel.money import percent_factor, rate_up

if TYPE_CHECKING:
    from catalog.models import Service


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


def effective_markup(service: "Service") -> Decimal:
    """The first markup set on the service, its category, its provider; else the panel's default."""
    for markup in (service.markup_percent, service.category.markup_percent, service.provider.markup_percent):
        if markup is not None:
            return markup
    return Decimal(settings.DEFAULT_MARKUP_PERCENT)


def service_price(service: "Service") -> Price:
    """Customer rate = upstream rate × exchange rate × (1 + markup %), or the admin's fixed price."""
    cost = service.upstream_rate * service.provider.exchange_rate
    if service.fixed_rate is not None:
        return Price(rate=service.fixed_rate, cost=rate_up(cost), markup_percent=None)
    markup = effective_markup(service)
    return Price(rate=rate_up(cost * percent_factor(markup)), cost=rate_up(cost), markup_percent=markup)


def discounted_rate(*, rate: Decimal, cost: Decimal, discount_percent: Decimal) -> Decimal:
    """A customer's rate per 1000: the service's rate less their discount, never below cost."""
    return max(rate_up(rate * percent_factor(-discount_percent)), rate_up(cost))
