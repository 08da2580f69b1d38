"""Providers, categories and the services mirrored from each provider's catalog, with their selling prices."""

import ipaddress
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q

from catalog.pricing import Price, SaleProblem, first_markup, price_of, sale_problem
from panel.money import AMOUNT_DIGITS, AMOUNT_PLACES, RATE_DIGITS, RATE_PLACES, rate_up

PERCENT: dict[str, Any] = {
    "max_digits": 7,
    "decimal_places": 2,
    "validators": [MinValueValidator(Decimal(0))],
}
RATE: dict[str, Any] = {"max_digits": RATE_DIGITS, "decimal_places": RATE_PLACES}
PROVIDER_URL_INSECURE = (
    "Use an https:// URL: the API key goes with every request. "
    "http:// is accepted only for this machine (127.0.0.1, ::1 or localhost)."
)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def validate_provider_url(value: str) -> None:
    """Refuse a URL that would send the provider's key in clear text over a network: https, or http on loopback."""
    try:
        parts = urlsplit(value)
        host = parts.hostname or ""
    except ValueError:
        host = ""
    if not host:
        return  # Not a URL at all: URLValidator says so.
    if parts.scheme.lower() == "https" or (parts.scheme.lower() == "http" and _is_loopback(host)):
        return
    raise ValidationError(PROVIDER_URL_INSECURE, code="insecure_url")


class Provider(models.Model):
    """An upstream panel we buy from through its API v2."""

    name = models.CharField(max_length=100, unique=True)
    api_url = models.URLField("API URL", max_length=500, validators=[validate_provider_url])
    api_key = models.CharField("API key", max_length=200)
    currency = models.CharField(
        max_length=3,
        default="USD",
        validators=[RegexValidator(r"^[A-Z]{3}$", "Use a three-letter currency code such as USD.")],
        help_text="The currency the provider charges in.",
    )
    exchange_rate = models.DecimalField(
        max_digits=18,
        decimal_places=8,
        default=Decimal(1),
        validators=[MinValueValidator(Decimal("0.00000001"))],
        help_text="Units of the panel currency per unit of the provider's currency.",
    )
    markup_percent = models.DecimalField(
        "markup %", null=True, blank=True, help_text="Blank: the panel's default markup.", **PERCENT
    )
    is_active = models.BooleanField("active", default=True)
    balance = models.DecimalField(
        max_digits=AMOUNT_DIGITS, decimal_places=AMOUNT_PLACES, null=True, blank=True, editable=False
    )
    balance_currency = models.CharField(max_length=3, blank=True, editable=False)
    balance_checked_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_sync_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_sync_ok = models.BooleanField(null=True, editable=False)
    last_sync_message = models.TextField(blank=True, editable=False)
    # Below this balance (in the provider's currency) the provider is low: the dashboard shows it, operators are
    # alerted. Blank: never low.
    low_balance_threshold = models.DecimalField(
        max_digits=AMOUNT_DIGITS, decimal_places=AMOUNT_PLACES, null=True, blank=True,
        help_text="Alert operators when the balance is below this (the provider's currency). Blank: never.",
    )  # fmt: skip
    # The last call to the provider's API (any action), and since when its calls have been failing (None: the last
    # one answered), for "providers whose last call failed" and alerts after N minutes of failures.
    last_call_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_call_ok = models.BooleanField(null=True, editable=False)
    last_call_error = models.CharField(max_length=500, blank=True, editable=False)
    failing_since = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(exchange_rate__gt=0), name="provider_exchange_rate_positive"),
            models.CheckConstraint(condition=Q(markup_percent__gte=0), name="provider_markup_not_negative"),
        ]

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        # Never the key: reprs end up in logs and error reports.
        return f"<Provider {self.pk}: {self.name} {self.api_url}>"

    @property
    def masked_key(self) -> str:
        key = self.api_key
        return f"{key[:4]}…{key[-2:]}" if len(key) > 10 else "•" * len(key)


class Category(models.Model):
    """A group of services as customers see it; created from upstream category names, then ours to edit."""

    name = models.CharField(max_length=200)
    # The upstream category name this one was created from: later syncs file new services here even after
    # an admin renamed it.
    source_name = models.CharField(max_length=200, unique=True, null=True, blank=True, editable=False)
    position = models.IntegerField(default=0, help_text="Lower comes first.")
    is_active = models.BooleanField("active", default=True)
    markup_percent = models.DecimalField(
        "markup %", null=True, blank=True, help_text="Blank: the provider's markup.", **PERCENT
    )

    class Meta:
        ordering = ["position", "name"]
        verbose_name_plural = "categories"
        constraints = [
            models.CheckConstraint(condition=Q(markup_percent__gte=0), name="category_markup_not_negative"),
        ]

    def __str__(self) -> str:
        return self.name


class Service(models.Model):
    """One provider service as we resell it: the upstream facts, and our name, category and price."""

    class DisabledReason(models.TextChoices):
        NONE = "", "—"
        MISSING_UPSTREAM = SaleProblem.MISSING_UPSTREAM.value, "vanished upstream"
        BELOW_COST = SaleProblem.BELOW_COST.value, "fixed price below cost"
        NO_PRICE = SaleProblem.NO_PRICE.value, "no usable price"

    # None: a manual service, which staff fulfil themselves (the staff API's fulfilment endpoints); never sent upstream.
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="services", null=True, blank=True)
    upstream_id = models.PositiveBigIntegerField("upstream service id", null=True, blank=True)
    upstream_name = models.CharField(max_length=500, editable=False)
    name = models.CharField(
        max_length=500, help_text="Shown to customers. Follows the upstream name until you change it."
    )
    type = models.CharField(max_length=50, default="Default")
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="services")
    upstream_category = models.CharField(max_length=200, blank=True, editable=False)
    upstream_rate = models.DecimalField(
        help_text="Per 1000, in the provider's currency (a manual service: what it costs us, in the panel currency).",
        **RATE,
    )
    min_quantity = models.PositiveBigIntegerField("min")
    max_quantity = models.PositiveBigIntegerField("max")
    refill = models.BooleanField(default=False, editable=False)
    cancel = models.BooleanField(default=False, editable=False)
    dripfeed = models.BooleanField("drip-feed", default=False, editable=False)
    panel_dripfeed = models.BooleanField(
        "the panel runs drip-feed itself",
        default=False,
        help_text="Offer drip-feed even though the provider has none: the panel places each run as its own order.",
    )
    description = models.TextField(blank=True)
    refill_days = models.PositiveIntegerField(
        "refill window (days)", default=30, help_text="How long after completion a customer may ask a refill."
    )
    deny_duplicates = models.BooleanField(
        "one active order per link",
        default=False,
        help_text="Refuse a new order while the customer has an unfinished one for the same link.",
    )
    upstream_extra = models.JSONField(default=dict, blank=True, editable=False)
    average_seconds = models.PositiveIntegerField(
        "average time (s)",
        null=True,
        blank=True,
        editable=False,
        help_text="From order to completion, over this service's last completed orders here.",
    )
    is_active = models.BooleanField("active", default=True)
    missing_upstream = models.BooleanField(default=False, editable=False)
    disabled_reason = models.CharField(
        max_length=20, choices=DisabledReason.choices, blank=True, default="", editable=False
    )
    markup_percent = models.DecimalField(
        "markup %", null=True, blank=True, help_text="Blank: the category's markup.", **PERCENT
    )
    fixed_rate = models.DecimalField(
        "fixed price",
        null=True,
        blank=True,
        help_text="Per 1000 in the panel currency; overrides markup.",
        **RATE,
    )
    rate = models.DecimalField(
        "our rate", editable=False, help_text="What customers pay per 1000, in the panel currency.", **RATE
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["category__position", "category__name", "id"]
        constraints = [
            # A service is a provider's (with its upstream id) or manual (neither). Provider and upstream id mirror
            # its first route: two services may share one upstream service once an admin reorders routes.
            models.CheckConstraint(
                condition=Q(provider__isnull=True, upstream_id__isnull=True)
                | Q(provider__isnull=False, upstream_id__isnull=False),
                name="service_provider_has_upstream_id",
            ),
            models.CheckConstraint(condition=Q(markup_percent__gte=0), name="service_markup_not_negative"),
            models.CheckConstraint(condition=Q(fixed_rate__gt=0), name="service_fixed_rate_positive"),
            models.CheckConstraint(condition=Q(upstream_rate__gte=0), name="service_upstream_rate_not_negative"),
            # Never sold at 0 by accident: a service without a real price is inactive.
            models.CheckConstraint(condition=Q(is_active=False) | Q(rate__gt=0), name="service_active_has_rate"),
        ]
        indexes = [models.Index(fields=["is_active", "category"])]

    def __str__(self) -> str:
        return self.name

    @property
    def is_manual(self) -> bool:
        """Fulfilled by staff, not bought from a provider."""
        return self.provider_id is None

    @property
    def offers_dripfeed(self) -> bool:
        """Customers may order drip-feed: through the provider's own, or run by the panel."""
        return self.dripfeed or self.panel_runs_dripfeed

    @property
    def panel_runs_dripfeed(self) -> bool:
        """A drip-feed order is placed run by run by the panel: the provider has no drip-feed of its own."""
        return self.panel_dripfeed and not self.dripfeed and not self.is_manual

    def price(self) -> Price:
        """What customers pay per 1000 and what it costs us (with its provider and category loaded). A manual
        service's cost is in the panel currency already."""
        provider = self.provider
        markup = first_markup(
            self.markup_percent,
            self.category.markup_percent,
            provider.markup_percent if provider else None,
            default=Decimal(settings.DEFAULT_MARKUP_PERCENT),
        )
        return price_of(
            upstream_rate=self.upstream_rate,
            exchange_rate=provider.exchange_rate if provider else Decimal(1),
            markup_percent=markup,
            fixed_rate=self.fixed_rate,
        )

    def clean(self) -> None:
        if self.min_quantity is not None and self.max_quantity is not None and self.min_quantity > self.max_quantity:
            raise ValidationError({"max_quantity": "The maximum must not be below the minimum."})
        if not self.is_active or self.upstream_rate is None or self.category_id is None:
            return
        price = self.price()
        problem = sale_problem(price=price, missing_upstream=self.missing_upstream)
        if problem == SaleProblem.MISSING_UPSTREAM:
            raise ValidationError({"is_active": "This service vanished upstream: it cannot be sold."})
        if problem == SaleProblem.NO_PRICE:
            raise ValidationError({"fixed_rate": "This service has no price upstream: set a fixed price to sell it."})
        if problem == SaleProblem.BELOW_COST:
            raise ValidationError(
                {"fixed_rate": f"The fixed price {self.fixed_rate} is below the cost {price.cost}: raise it first."}
            )


class Route(models.Model):
    """One way to fulfil a service: a provider's upstream service, with its own rate, limits and features, tried in
    priority order. The first route is the service's price basis; the others are its failover."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="routes")
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="routes")
    upstream_id = models.PositiveBigIntegerField("upstream service id")
    priority = models.IntegerField(default=0, help_text="Lower is tried first; the first route sets the price.")
    is_active = models.BooleanField("active", default=True)
    upstream_name = models.CharField(max_length=500, blank=True, editable=False)
    upstream_rate = models.DecimalField(help_text="Per 1000, in the provider's currency.", editable=False, **RATE)
    min_quantity = models.PositiveBigIntegerField("min", editable=False)
    max_quantity = models.PositiveBigIntegerField("max", editable=False)
    refill = models.BooleanField(default=False, editable=False)
    cancel = models.BooleanField(default=False, editable=False)
    dripfeed = models.BooleanField("drip-feed", default=False, editable=False)
    missing_upstream = models.BooleanField(default=False, editable=False)
    # Failures (refusals that may pass, transport failures, failed orders) counted from `failures_since`; at
    # ROUTE_QUARANTINE_FAILURES within the window the route is skipped until `quarantined_until`.
    failures = models.PositiveIntegerField(default=0, editable=False)
    failures_since = models.DateTimeField(null=True, blank=True, editable=False)
    quarantined_until = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["service", "priority", "id"]
        constraints = [
            models.UniqueConstraint(fields=["service", "provider", "upstream_id"], name="route_unique_per_service"),
            models.CheckConstraint(condition=Q(upstream_rate__gte=0), name="route_upstream_rate_not_negative"),
        ]
        indexes = [models.Index(fields=["provider", "upstream_id"])]

    def __str__(self) -> str:
        return f"{self.provider} #{self.upstream_id}"

    def cost(self) -> Decimal:
        """Per 1000 in the panel currency (with its provider loaded)."""
        return rate_up(self.upstream_rate * self.provider.exchange_rate)


class ServicePrice(models.Model):
    """A service's price from a moment on: what it sold for (our rate per 1000) and what it cost (upstream rate per
    1000 in the panel currency). A new row whenever either changes, so any past day has its prices."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="prices")
    rate = models.DecimalField(help_text="Our rate per 1000 (before customers' discounts).", **RATE)
    cost = models.DecimalField(help_text="Upstream rate per 1000, in the panel currency.", **RATE)
    valid_from = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["service", "-valid_from"]
        get_latest_by = "valid_from"
        constraints = [models.UniqueConstraint(fields=["service", "valid_from"], name="service_price_once_per_moment")]

    def __str__(self) -> str:
        return f"{self.service_id}: {self.rate} (cost {self.cost}) from {self.valid_from}"
