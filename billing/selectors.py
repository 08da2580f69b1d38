"""Reads for the Add funds page: a customer's own ledger and deposit requests, and the payment methods on offer."""

from django.core.paginator import Page, Paginator

from accounts.models import User
from billing.models import DepositRequest, LedgerEntry, PaymentMethod

LEDGER_PAGE_SIZE = 25
RECENT_DEPOSITS = 20


def ledger_page_of(*, user: User, page: str | None) -> Page[LedgerEntry]:
    """One page of the customer's ledger, newest first; a page number out of range gives the nearest page."""
    entries = LedgerEntry.objects.filter(wallet__user=user).select_related("deposit_request__method").order_by("-id")
    return Paginator(entries, LEDGER_PAGE_SIZE).get_page(page)


def deposit_requests_of(*, user: User, limit: int = RECENT_DEPOSITS) -> list[DepositRequest]:
    """The customer's latest deposit requests, newest first, with their payment method."""
    return list(DepositRequest.objects.filter(user=user).select_related("method").order_by("-id")[:limit])


def payment_methods_offered() -> list[PaymentMethod]:
    return list(PaymentMethod.objects.filter(is_active=True))
