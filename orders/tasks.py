"""Celery wrappers for order work: fetch by id, call a service. Every periodic job is also `manage.py poll`."""

import logging
from datetime import timedelta

from celery import shared_task

from orders.selectors import forward_due
from orders.services.followups import cancels_forward, followups_sweep, refills_forward, refills_poll
from orders.services.forwarding import order_forward, orders_sweep
from orders.services.polling import poll_statuses
from orders.services.statistics import average_times_refresh

logger = logging.getLogger(__name__)


# acks_late is safe here: a redelivered message finds the order no longer QUEUED and does nothing.
@shared_task(acks_late=True)
def forward_order(order_id: int) -> str:
    return order_forward(order_id=order_id)


@shared_task
def poll_orders() -> None:
    report = poll_statuses()
    for failure in report.failures:
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
