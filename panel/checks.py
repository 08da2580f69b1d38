"""System checks of the panel's own settings: with DEBUG off, a missing outside service is an error, not a
quiet fallback to the embedded default (mail on the console, rate limits per process, a broker on disk)."""

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register


@register(Tags.security)
def production_services_check(app_configs: Sequence[AppConfig] | None, **kwargs: Any) -> list[CheckMessage]:
    if settings.DEBUG:
        return []
    errors: list[CheckMessage] = []
    if settings.EMAIL_BACKEND == "django.core.mail.backends.console.EmailBackend":
        errors.append(
            Error(
                "EMAIL_URL must name a mail server when DEBUG is off: password-reset links would be printed to the "
                "web log.",
                hint="Set EMAIL_URL, e.g. smtp+tls://user:password@smtp.example.com:587.",
                id="panel.E001",
            )
        )
    if not settings.REDIS_URL:
        errors.append(
            Error(
                "REDIS_URL must be set when DEBUG is off: rate limits would count in each worker process alone.",
                hint="Set REDIS_URL, e.g. redis://redis:6379/1.",
                id="panel.E002",
            )
        )
    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        errors.append(
            Error(
                "CELERY_BROKER_URL must name a shared broker when DEBUG is off: the filesystem broker under var/ "
                "reaches only workers on this machine.",
                hint="Set CELERY_BROKER_URL, e.g. redis://redis:6379/0.",
                id="panel.E003",
            )
        )
    return errors
