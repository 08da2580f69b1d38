"""Periodic billing checks."""

import logging

from celery import shared_task

from backoffice.alerts import Kind, admin_link, alert_raise, alerts_resolve
from backoffice.models import Alert
from billing.services import ledger_mismatches

logger = logging.getLogger(__name__)

LEDGER_KEY = "ledger-mismatch:"


@shared_task
def check_ledger() -> int:
    """Log and alert every wallet whose balance is not the sum of its ledger (or an affiliate wallet whose debt is
    not what its commission reversals left): money gone astray must be loud. A wallet that agrees again ends its
    incident."""
    mismatches = list(ledger_mismatches())
    for wallet in mismatches:
        total, owed, holder = wallet.total, wallet.owed, wallet.holder_name  # type: ignore[attr-defined]
        if wallet.balance != total:
            subject = f"the wallet of {holder} holds {wallet.balance}, its entries sum to {total}"
            body = (
                f"Wallet {wallet.pk} of {holder} holds {wallet.balance} but its ledger entries sum to {total}. "
                "Entries are never edited: find what moved the balance outside the ledger, then correct it with an "
                "adjustment."
            )
        else:
            subject = f"the wallet of {holder} owes {wallet.debt}, its commission reversals leave {owed}"
            body = (
                f"Affiliate wallet {wallet.pk} of {holder} owes {wallet.debt}, but its commission reversals less the "
                f"debt repayments leave {owed} owed: find what changed the debt outside them."
            )
        logger.error("ledger mismatch: %s", subject)
        alert_raise(
            kind=Kind.LEDGER_MISMATCH,
            key=f"{LEDGER_KEY}{wallet.pk}",
            subject=f"ledger mismatch: {subject}",
            body=body,
            url=admin_link("billing_wallet_change", wallet.pk),
        )
    agreeing = Alert.objects.filter(kind=Kind.LEDGER_MISMATCH, key__startswith=LEDGER_KEY).exclude(
        key__in=[f"{LEDGER_KEY}{wallet.pk}" for wallet in mismatches]
    )
    alerts_resolve(alerts=agreeing)
    return len(mismatches)


@shared_task
def check_open_payments() -> int:
    """Ask the gateways about payments still open after PAYMENT_CHECK_MINUTES: a notification that never came
    does not lose the customer's money. Returns how many were credited."""
    from django.conf import settings

    from billing.payments.services import payments_check_open

    return payments_check_open(older_than_minutes=settings.PAYMENT_CHECK_MINUTES)
