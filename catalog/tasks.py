"""Periodic catalog jobs: thin wrappers that fetch by id and call a service."""

import logging

from celery import shared_task

from catalog.models import Provider
from catalog.services.providers import ProviderError, provider_check, providers_failing_alert
from catalog.services.sync import catalog_sync

logger = logging.getLogger(__name__)


@shared_task
def sync_catalogs() -> None:
    for provider_id in Provider.objects.filter(is_active=True).values_list("id", flat=True):
        sync_provider_catalog.delay(provider_id)


@shared_task
def sync_provider_catalog(provider_id: int) -> None:
    provider = Provider.objects.filter(pk=provider_id, is_active=True).first()
    if provider is not None:
        catalog_sync(provider=provider)


@shared_task
def check_provider_balances() -> None:
    for provider in Provider.objects.filter(is_active=True):
        try:
            provider_check(provider=provider)
        except ProviderError as exc:
            logger.warning("balance check failed: %s", exc.message)


@shared_task
def check_failing_providers() -> int:
    return providers_failing_alert()
