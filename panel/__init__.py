"""The Django project: settings, URLs, the Celery app and cross-cutting helpers such as money."""

from panel.celery import app as celery_app

__all__ = ("celery_app",)
