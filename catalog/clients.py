"""The API v2 client for a provider, configured from settings."""

from django.conf import settings

from catalog.models import Provider
from upstream.client import ApiClient


def provider_client(provider: Provider) -> ApiClient:
    return ApiClient(
        provider.api_url,
        provider.api_key,
        connect_timeout=settings.UPSTREAM_CONNECT_TIMEOUT,
        read_timeout=settings.UPSTREAM_READ_TIMEOUT,
    )
