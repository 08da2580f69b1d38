"""Writes to providers: each is saved only once its API answered with its URL and key."""

from decimal import Decimal

from django.utils import timezone

from catalog.clients import provider_client
from catalog.models import Provider
from panel.errors import ApplicationError
from upstream.client import Ambiguous, NotSent, Rejected, UpstreamError
from upstream.protocol import Balance


class ProviderError(ApplicationError):
    """A provider could not be reached or refused us; the message says which, without its key."""


def provider_error_text(provider_name: str, exc: UpstreamError) -> str:
    if isinstance(exc, NotSent):
        return f"Cannot reach {provider_name}: {exc.message}"
    if isinstance(exc, Rejected):
        return f"{provider_name} refused the request: {exc.message}"
    assert isinstance(exc, Ambiguous)
    return f"{provider_name} did not answer like an API v2 endpoint: {exc.message}"


def _record_balance(provider: Provider, balance: Balance) -> None:
    provider.balance = balance.amount
    provider.balance_currency = balance.currency[:3]
    provider.balance_checked_at = timezone.now()


def provider_check(*, provider: Provider) -> Balance:
    """Ask the provider for its balance: proves that the URL and key work, and records the balance."""
    try:
        balance = provider_client(provider).balance()
    except UpstreamError as exc:
        raise ProviderError(provider_error_text(provider.name, exc)) from None
    _record_balance(provider, balance)
    provider.save(update_fields=["balance", "balance_currency", "balance_checked_at"])
    return balance


def provider_create(
    *,
    name: str,
    api_url: str,
    api_key: str,
    currency: str = "USD",
    exchange_rate: Decimal = Decimal(1),
    markup_percent: Decimal | None = None,
) -> Provider:
    """Save a new provider only after its API answered a balance call with this URL and key."""
    provider = Provider(
        name=name,
        api_url=api_url,
        api_key=api_key,
        currency=currency.upper(),
        exchange_rate=exchange_rate,
        markup_percent=markup_percent,
    )
    provider.full_clean()
    try:
        balance = provider_client(provider).balance()
    except UpstreamError as exc:
        raise ProviderError(provider_error_text(name, exc)) from None
    _record_balance(provider, balance)
    provider.save()
    return provider
