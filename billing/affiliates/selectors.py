"""Reads of the affiliate program: an affiliate's link by its code, and every figure of their affiliates page, in a
few aggregate queries (never one per month, customer or order), scoped to the affiliate."""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.db.models import Count, Sum
from django.db.models.functions import TruncMonth

from billing.models import AffiliateAccount, LedgerEntry, Referral, ReferralVisits

Kind = LedgerEntry.Kind
RECENT_MOVEMENTS = 20
# What a referred customer's spend is made of: charges (negative), and the refunds that gave part of them back.
SPEND_KINDS = [Kind.CHARGE, Kind.REFUND, Kind.LATER_REFUND]
# What a referrer earned, net: commissions less what later refunds took back of them, at once or later.
EARNING_KINDS = [Kind.COMMISSION, Kind.COMMISSION_REVERSAL, Kind.DEBT_REPAYMENT]


def affiliate_account_by_code(*, code: str) -> AffiliateAccount | None:
    """The account whose referral link this is (None for a code nobody has), with its owner."""
    return AffiliateAccount.objects.select_related("user").filter(code=code).first()


def affiliate_code_of(*, user_id: int) -> str | None:
    return AffiliateAccount.objects.filter(user_id=user_id).values_list("code", flat=True).first()


@dataclass
class Month:
    """One month of an affiliate's figures (in their time zone)."""

    month: date
    visits: int = 0
    signups: int = 0
    spend: Decimal = Decimal(0)
    earned: Decimal = Decimal(0)


@dataclass
class AffiliateFigures:
    """An affiliate's page: their money and their referrals, in all and by month (newest first)."""

    balance: Decimal
    debt: Decimal
    months: list[Month]
    movements: list[LedgerEntry]
    visits: int = 0
    signups: int = 0
    spend: Decimal = Decimal(0)
    earned: Decimal = Decimal(0)
    moved: Decimal = Decimal(0)
    paid_out: Decimal = Decimal(0)


def _month(value: date) -> date:
    """A month as its first day: TruncMonth gives a datetime (in the current time zone), the visits a date."""
    return value.date() if isinstance(value, datetime) else value


def affiliate_figures(*, account: AffiliateAccount) -> AffiliateFigures:
    """Visits, sign-ups, the referred customers' net spend and the net commissions, by month; what was moved to
    the main balance and paid out; the balance and what is owed. Five queries, whatever the history."""
    months: dict[date, Month] = {}

    def at(month: date) -> Month:
        key = _month(month)
        return months.setdefault(key, Month(month=key))

    for month, count in ReferralVisits.objects.filter(account=account).values_list("month", "count"):
        at(month).visits += count
    signups = (
        Referral.objects.filter(referrer_id=account.user_id)
        .annotate(month=TruncMonth("created_at"))
        .values_list("month")
        .annotate(count=Count("pk"))
        .values_list("month", "count")
    )
    for month, count in signups:
        at(month).signups += count
    spend = (
        LedgerEntry.objects.filter(wallet__user__referral__referrer_id=account.user_id, kind__in=SPEND_KINDS)
        .annotate(month=TruncMonth("created_at"))
        .values_list("month")
        .annotate(total=Sum("amount"))
        .values_list("month", "total")
    )
    for month, total in spend:
        at(month).spend -= total
    own = (
        LedgerEntry.objects.filter(wallet_id=account.wallet_id)
        .annotate(month=TruncMonth("created_at"))
        .values_list("month", "kind")
        .annotate(total=Sum("amount"))
        .values_list("month", "kind", "total")
    )
    moved = paid_out = Decimal(0)
    for month, kind, total in own:
        if kind in EARNING_KINDS:
            at(month).earned += total
        elif kind == Kind.TRANSFER_OUT:
            moved -= total
        elif kind == Kind.PAYOUT:
            paid_out -= total
    movements = list(
        LedgerEntry.objects.filter(wallet_id=account.wallet_id, kind__in=[Kind.TRANSFER_OUT, Kind.PAYOUT]).order_by(
            "-id"
        )[:RECENT_MOVEMENTS]
    )
    rows = sorted(months.values(), key=lambda row: row.month, reverse=True)
    return AffiliateFigures(
        balance=account.wallet.balance,
        debt=account.wallet.debt,
        months=rows,
        movements=movements,
        visits=sum(row.visits for row in rows),
        signups=sum(row.signups for row in rows),
        spend=sum((row.spend for row in rows), Decimal(0)),
        earned=sum((row.earned for row in rows), Decimal(0)),
        moved=moved,
        paid_out=paid_out,
    )
