"""The Celery app; the beat schedule is defined here, in code, so every deployment runs the same jobs."""

import os
from datetime import timedelta

from celery import Celery
from celery.schedules import crontab
from django.conf import settings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "panel.settings")

app = Celery("panel")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_finalize.connect
def _schedule_periodic_jobs(sender: Celery, **kwargs: object) -> None:
    sender.conf.beat_schedule = {
        "sync-catalogs": {
            "task": "catalog.tasks.sync_catalogs",
            "schedule": timedelta(minutes=settings.CATALOG_SYNC_MINUTES),
        },
        "check-provider-balances": {
            "task": "catalog.tasks.check_provider_balances",
            "schedule": timedelta(minutes=settings.PROVIDER_BALANCE_MINUTES),
        },
        "check-failing-providers": {"task": "catalog.tasks.check_failing_providers", "schedule": timedelta(minutes=1)},
        "poll-orders": {"task": "orders.tasks.poll_orders", "schedule": timedelta(minutes=1)},
        "advance-dripfeeds": {"task": "orders.tasks.advance_dripfeeds", "schedule": timedelta(minutes=1)},
        "send-refills-and-cancels": {
            "task": "orders.tasks.send_refills_and_cancels",
            "schedule": timedelta(minutes=1),
        },
        "poll-refills": {"task": "orders.tasks.poll_refills", "schedule": timedelta(minutes=5)},
        "sweep-orders": {"task": "orders.tasks.sweep_orders", "schedule": timedelta(minutes=1)},
        "refresh-average-times": {"task": "orders.tasks.refresh_average_times", "schedule": timedelta(hours=1)},
        "check-ledger": {"task": "billing.tasks.check_ledger", "schedule": crontab(minute=7)},
        "check-open-payments": {"task": "billing.tasks.check_open_payments", "schedule": timedelta(minutes=5)},
        "send-unsent-alerts": {"task": "backoffice.tasks.send_unsent_alerts", "schedule": timedelta(minutes=5)},
        "send-unsent-ticket-mail": {"task": "support.tasks.notify_unsent_messages", "schedule": timedelta(minutes=5)},
    }
