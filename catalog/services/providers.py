"""Writes to providers: each is saved only once its API answered with its URL and key."""

from collections.abc import Iterable
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from backoffice.alerts import Kind, admin_link, alert_raise, alert_resolve
from backoffice.audit import audit_record, changed, values_of
from catalog.clients import provider_client
from catalog.models import Provider, Service
from catalog.selectors import catalog_changed
from catalog.services.listings import services_reprice
from panel.errors import ApplicationError
from upstream.client import Ambiguous, NotSent, Rejected, UpstreamError
from upstream.protocol import Balance

BALANCE_FIELDS = ["balance", "balance_currency", "balance_checked_at"]
# What an admin edits; the balance and the sync outcome are recorded from the provider's answers.
EDITABLE_FIELDS = (
    "name", "api_url", "api_key", "currency", "exchange_rate", "markup_percent", "is_active", "low_balance_threshold",
)  # fmt: skip
KEY_AGAIN = "Enter the API key again when you change the URL."


class ProviderError(ApplicationError):
    """A provider could not be reached or refused us; the message says which, without its key."""


def provider_error_text(provider_name: str, exc: UpstreamError) -> str:
    if isinstance(exc, NotSent):
        return f"Cannot reach {provider_name}: {exc.message}"
    if isinstance(exc, Rejected):
        return f"{provider_name} refused the request: {exc.message}"
    assert isinstance(exc, Ambiguous)
    return f"{provider_name} did not answer like an API v2 endpoint: {exc.message}"


def _ask_balance(provider: Provider) -> Balance:
    """Ask the provider for its balance with its URL and key, and note it on the (unsaved) provider."""
    try:
        balance = provider_client(provider).balance()
    except UpstreamError as exc:
        raise ProviderError(provider_error_text(provider.name, exc)) from None
    provider.balance = balance.amount
    provider.balance_currency = balance.currency[:3]
    provider.balance_checked_at = timezone.now()
    return balance


def _audited(provider: Provider) -> dict[str, object]:
    """What the audit trail keeps of a provider: its editable fields, the key masked (never stored in clear)."""
    return {**values_of(provider, EDITABLE_FIELDS), "api_key": provider.masked_key}


def provider_check(*, provider: Provider) -> Balance:
    """Ask the provider for its balance: proves that the URL and key work, and records the balance."""
    balance = _ask_balance(provider)
    provider.save(update_fields=BALANCE_FIELDS)
    _balance_alert(provider)
    return balance


def _balance_alert(provider: Provider) -> None:
    """Alert operators once when a recorded balance is below the provider's threshold; resolved once above."""
    key = f"provider-low:{provider.pk}"
    threshold = provider.low_balance_threshold
    if threshold is None or provider.balance is None or provider.balance >= threshold:
        alert_resolve(key=key)
        return
    currency = provider.balance_currency or provider.currency
    alert_raise(
        kind=Kind.PROVIDER_LOW_BALANCE,
        key=key,
        subject=f"provider {provider.name} is low on balance: {provider.balance} {currency}",
        body=f"{provider.name} holds {provider.balance} {currency}, below the threshold of {threshold}. Orders it "
        "cannot pay for are held until it is topped up: add funds at the provider.",
        url=admin_link("catalog_provider_change", provider.pk),
    )


def providers_failing_alert() -> int:
    """Alert operators of each provider whose calls have all failed for PROVIDER_FAILING_MINUTES (once per streak:
    its next answered call resolves it); returns how many are failing that long."""
    limit = timezone.now() - timedelta(minutes=settings.PROVIDER_FAILING_MINUTES)
    failing = list(Provider.objects.filter(failing_since__lte=limit))
    for provider in failing:
        alert_raise(
            kind=Kind.PROVIDER_FAILING,
            key=f"provider-failing:{provider.pk}",
            subject=f"provider {provider.name} has been failing since {provider.failing_since:%Y-%m-%d %H:%M %Z}",
            body=f"Every call to {provider.name} since then failed; the last one: {provider.last_call_error}. Orders, "
            "statuses and refills wait until it answers again. Check its API URL and whether it is up.",
            url=admin_link("catalog_provider_change", provider.pk),
        )
    return len(failing)


def provider_answered(*, provider: Provider) -> None:
    """The provider answered after a streak of failures: its "failing" incident is over."""
    alert_resolve(key=f"provider-failing:{provider.pk}")


def provider_create(
    *,
    name: str,
    api_url: str,
    api_key: str,
    currency: str = "USD",
    exchange_rate: Decimal = Decimal(1),
    markup_percent: Decimal | None = None,
    is_active: bool = True,
    low_balance_threshold: Decimal | None = None,
    actor: User | None,
) -> Provider:
    """Save a new provider only after its API answered a balance call with this URL and key; audited with `actor`
    (None: the command line)."""
    provider = Provider(
        name=name,
        api_url=api_url,
        api_key=api_key,
        currency=currency.upper(),
        exchange_rate=exchange_rate,
        markup_percent=markup_percent,
        is_active=is_active,
        low_balance_threshold=low_balance_threshold,
    )
    provider.full_clean()
    _ask_balance(provider)
    with transaction.atomic():
        provider.save()
        audit_record(actor=actor, action="provider.create", target=provider, before={}, after=_audited(provider))
    _balance_alert(provider)
    return provider


def provider_update(*, provider: Provider, fields: Iterable[str], actor: User | None) -> list[Service]:
    """Save an admin's edit of these fields, audited with `actor`; a new URL or key only once the provider answered
    with it, and a new URL only with the key given again in `fields`.

    Returns the provider's services that a new exchange rate or markup disabled for selling below cost.
    """
    stored = Provider.objects.get(pk=provider.pk)
    asked = set(fields)
    edited = [name for name in EDITABLE_FIELDS if name in asked and getattr(provider, name) != getattr(stored, name)]
    if "api_url" in edited and "api_key" not in asked:
        # The stored key would go to the new URL with the first request: only someone who knows it may move it.
        raise ProviderError(KEY_AGAIN)
    for name in edited:
        setattr(stored, name, getattr(provider, name))
    stored.currency = stored.currency.upper()
    stored.full_clean()
    checked = bool({"api_url", "api_key"} & set(edited))
    if checked:
        # Before the row lock: no lock is held while the provider takes its time to answer.
        _ask_balance(stored)
    with transaction.atomic():
        current = Provider.objects.select_for_update().get(pk=provider.pk)
        before = _audited(current)
        saved = [*edited, *(BALANCE_FIELDS if checked else [])]
        for name in saved:
            setattr(current, name, getattr(stored, name))
        current.save(update_fields=saved)
        old, new = changed(before, _audited(current))
        if "api_key" in edited and "api_key" not in new:
            # Another key that masks alike: still a change of key.
            old["api_key"], new["api_key"] = before["api_key"], "(changed) " + current.masked_key
        if new:
            audit_record(actor=actor, action="provider.change", target=current, before=old, after=new)
        transaction.on_commit(catalog_changed)
        if checked or "low_balance_threshold" in edited:
            _balance_alert(current)
        if {"exchange_rate", "markup_percent"} & set(edited):
            return services_reprice(services=Service.objects.filter(provider=current))
    return []
