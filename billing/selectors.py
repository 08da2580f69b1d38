"""Reads of money: a customer's balance, debt, ledger, payments and deposit requests, and the methods on offer."""

from decimal import Decimal

from django.core.paginator import Page, Paginator

from accounts.models import User
from billing.models import DepositRequest, LedgerEntry, Payment, PaymentMethod, Wallet

LEDGER_PAGE_SIZE = 25
RECENT_DEPOSITS = 20
RECENT_PAYMENTS = 20


def wallet_balance(*, user_id: int) -> Decimal:
    """What the customer has to spend: one indexed read, never a write (no wallet yet is 0)."""
    balance = Wallet.objects.filter(user_id=user_id).values_list("balance", flat=True).first()
    return Decimal(0) if balance is None else balance


def user_balance(*, user: User) -> Decimal:
    """wallet_balance, from the wallet read along with the user where it was (accounts.services.api_key_user)."""
    try:
        return user.wallet.balance
    except Wallet.DoesNotExist:
        return Decimal(0)


def ledger_page_of(*, user: User, page: str | None) -> Page[LedgerEntry]:
    """One page of the customer's ledger, newest first; a page number out of range gives the nearest page."""
    entries = (
        LedgerEntry.objects.filter(wallet__user=user)
        .select_related("deposit_request__method", "payment__method")
        .order_by("-id")
    )
    return Paginator(entries, LEDGER_PAGE_SIZE).get_page(page)


def deposit_requests_of(*, user: User, limit: int = RECENT_DEPOSITS) -> list[DepositRequest]:
    """The customer's latest deposit requests, newest first, with their payment method."""
    return list(DepositRequest.objects.filter(user=user).select_related("method").order_by("-id")[:limit])


def payment_methods_offered() -> list[PaymentMethod]:
    return list(PaymentMethod.objects.filter(is_active=True))


def wallet_debt(*, user_id: int) -> Decimal:
    """What the customer owes after a payment was taken back (0 for nearly everyone)."""
    debt = Wallet.objects.filter(user_id=user_id).values_list("debt", flat=True).first()
    return Decimal(0) if debt is None else debt


def payments_of(*, user: User, limit: int = RECENT_PAYMENTS) -> list[Payment]:
    """The customer's latest payments through gateways, newest first, with their method."""
    return list(Payment.objects.filter(user=user).select_related("method").order_by("-id")[:limit])


def payment_of(*, user: User, payment_id: int | None) -> Payment | None:
    """One of the customer's payments; None for another customer's (as if it did not exist)."""
    if payment_id is None:
        return None
    return Payment.objects.select_related("method").filter(user=user, pk=payment_id).first()
