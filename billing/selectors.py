"""Reads of money: a customer's balance, ledger and deposit requests, and the payment methods on offer."""

from decimal import Decimal

from django.core.paginator import Page, Paginator

from accounts.models import User
from billing.models import DepositRequest, LedgerEntry, PaymentMethod, Wallet

LEDGER_PAGE_SIZE = 25
RECENT_DEPOSITS = 20


def wallet_balance(*, user_id: int) -> Decimal:
    """What the customer has to spend: one indexed read, never a write (no wallet yet is 0)."""
    balance = Wallet.objects.filter(user_id=user_id).values_list("balance", flat=True).first()
    return Decimal(0) if balance is None else balance


def ledger_page_of(*, user: User, page: str | None) -> Page[LedgerEntry]:
    """One page of the customer's ledger, newest first; a page number out of range gives the nearest page."""
    entries = LedgerEntry.objects.filter(wallet__user=user).select_related("deposit_request__method").order_by("-id")
    return Paginator(entries, LEDGER_PAGE_SIZE).get_page(page)


def deposit_requests_of(*, user: User, limit: int = RECENT_DEPOSITS) -> list[DepositRequest]:
    """The customer's latest deposit requests, newest first, with their payment method."""
    return list(DepositRequest.objects.filter(user=user).select_related("method").order_by("-id")[:limit])


def payment_methods_offered() -> list[PaymentMethod]:
    return list(PaymentMethod.objects.filter(is_active=True))
