"""Celery wrappers for order work: fetch by id, call a service. Every periodic job is also `manage.py poll`."""

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings

from catalog.models import Provider
from orders.selectors import forward_due
from orders.services.dripfeed import dripfeed_run_place, dripfeeds_advance
from orders.services.followups import cancels_forward, followups_sweep, refills_forward, refills_poll
from orders.services.forwarding import order_forward, orders_sweep
from orders.services.polling import poll_provider, providers_to_poll
from orders.services.statistics import average_times_refresh

logger = logging.getLogger(__name__)


# acks_late is safe here: a redelivered message finds the order no longer QUEUED and does nothing.
@shared_task(acks_late=True)
def forward_order(order_id: int) -> str:
    return order_forward(order_id=order_id)


@shared_task
def place_dripfeed_run(order_id: int) -> None:
    """The first run of a drip-feed the panel runs, at once after it was placed (beat places the others)."""
    dripfeed_run_place(order_id=order_id)


@shared_task
def advance_dripfeeds() -> None:
    """Place the runs of drip-feeds that are due (each forwarded after its commit) and follow their parents."""
    dripfeeds_advance()


@shared_task
def poll_orders() -> None:
    """Start a cycle of every provider with open orders: as many pollers as it allows at once, each a task, so
    that its status calls overlap on as many workers (a poller beyond its slots skips at once)."""
    for provider_id in providers_to_poll():
        for _ in range(settings.POLL_CONCURRENCY_PER_PROVIDER):
            poll_provider_orders.delay(provider_id)


@shared_task
def poll_provider_orders(provider_id: int) -> None:
    provider = Provider.objects.filter(pk=provider_id).first()
    if provider is None:
        return
    for failure in poll_provider(provider=provider).failures:
        logger.warning("status polling: %s", failure)


@shared_task
def send_refills_and_cancels() -> None:
    for report in (refills_forward(), cancels_forward()):
        for failure in report.failures:
            logger.warning("refills/cancels: %s", failure)


@shared_task
def poll_refills() -> None:
    refills_poll()


@shared_task
def sweep_orders() -> None:
    """Make stuck SENDING orders UNKNOWN, and re-enqueue queued orders whose message was lost (after commit,
    a crash before publishing loses it) or whose HELD backoff is over."""
    orders_sweep()
    followups_sweep()
    for order_id in forward_due(settle=timedelta(minutes=1)):
        forward_order.delay(order_id)


@shared_task
def refresh_average_times() -> None:
    average_times_refresh()
