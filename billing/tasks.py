"""Periodic billing checks."""

import logging

from celery import shared_task

from billing.services import ledger_mismatches

logger = logging.getLogger(__name__)


@shared_task
def check_ledger() -> int:
    """Log every wallet whose balance is not the sum of its ledger: money gone astray must be loud."""
    mismatches = list(ledger_mismatches())
    for wallet in mismatches:
        total = wallet.total  # type: ignore[attr-defined]
        logger.error(
            "ledger mismatch: wallet of %s holds %s, its entries sum to %s", wallet.user, wallet.balance, total
        )
    return len(mismatches)


@shared_task
def check_open_payments() -> int:
    """Ask the gateways about payments still open after PAYMENT_CHECK_MINUTES: a notification that never came
    does not lose the customer's money. Returns how many were credited."""
    from django.conf import settings

    from billing.payments.services import payments_check_open

    return payments_check_open(older_than_minutes=settings.PAYMENT_CHECK_MINUTES)
