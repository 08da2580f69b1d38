"""The API v2 client for a provider, configured from settings, recording how each call went on the provider."""

from django.conf import settings
from django.db.models import Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from catalog.models import Provider
from upstream.client import Ambiguous, ApiClient, NotSent, Outcome, UpstreamError


def provider_client(provider: Provider, *, on_outcome: Outcome | None = None) -> ApiClient:
    """The provider's client; each call's outcome is recorded on the provider at once, or handed to `on_outcome`
    (a caller whose calls run in another thread records them itself, on its own connection)."""
    return ApiClient(
        provider.api_url,
        provider.api_key,
        connect_timeout=settings.UPSTREAM_CONNECT_TIMEOUT,
        read_timeout=settings.UPSTREAM_READ_TIMEOUT,
        on_outcome=on_outcome or (lambda failure: provider_call_record(provider=provider, failure=failure)),
    )


def provider_call_record(*, provider: Provider, failure: UpstreamError | None) -> None:
    """Note a call's outcome on the provider in one UPDATE: when, whether it answered, why not (the client's
    message, never the key), and since when its calls have been failing.

    A refusal is an answer: the provider works, it only said no (to an order, for want of funds). A streak that
    ends resolves the provider's "failing" alert.
    """
    if provider.pk is None:
        return  # a provider being created, checked before it is saved
    from catalog.services.providers import provider_answered  # the services import this module

    now = timezone.now()
    row = Provider.objects.filter(pk=provider.pk)
    if isinstance(failure, NotSent | Ambiguous):
        message = failure.message[:500]
        row.update(last_call_at=now, last_call_ok=False, last_call_error=message,
                   failing_since=Coalesce("failing_since", Value(now)))  # fmt: skip
        provider.last_call_ok, provider.last_call_error = False, message
        provider.failing_since = provider.failing_since or now
        return
    # Whether a streak ended is the database's word (this instance may predate the streak); a healthy provider's
    # answer is one UPDATE.
    healthy = row.filter(failing_since__isnull=True).update(last_call_at=now, last_call_ok=True, last_call_error="")
    ended = not healthy and row.update(last_call_at=now, last_call_ok=True, last_call_error="", failing_since=None)
    provider.last_call_ok, provider.last_call_error, provider.failing_since = True, "", None
    if ended:
        provider_answered(provider=provider)
