"""The affiliate program's writes: each customer's affiliate account (its referral code and wallet), who referred
whom (once, at sign-up), the visits of referral links, and the affiliate wallets' money: a commission when a
referred customer's order becomes final, its reversal when a later refund gives part of the order back, moving
earnings to the main balance, and operators' payouts outside the panel. Every movement is a ledger entry.

Locks are taken in one order wherever money moves, so that no two writers wait on each other in a circle: the
order rows, then main wallets, then affiliate wallets, each kind in id order.
"""

import secrets
import zoneinfo
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_noop

from accounts.models import User
from backoffice.alerts import Kind as AlertKind
from backoffice.alerts import admin_link, alert_raise
from backoffice.audit import audit_record
from billing.models import AffiliateAccount, CommissionReversal, LedgerEntry, Referral, ReferralVisits, Wallet
from billing.services import Refundable, SentAlready, amount_checked, once_unused, wallet_lock, wallet_move
from orders.models import Order
from panel.db import rows_insert, rows_update
from panel.errors import ApplicationError
from panel.formatting import money
from panel.money import commission_amount, taken_back_amount

Kind = LedgerEntry.Kind
# Final statuses that earn a commission: a Canceled order was refunded in full.
EARNING = (Order.Status.COMPLETED, Order.Status.PARTIAL)
CODE_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
CODE_LENGTH = 10
_LEDGER_FIELDS = ["wallet", "kind", "amount", "balance_after", "order", "cause", "note", "created_at"]


class AffiliateRefused(ApplicationError):
    pass


def _code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def affiliate_account_open(*, user: User) -> AffiliateAccount:
    """The customer's affiliate account, opened with its wallet and referral code the first time it is needed."""
    for _ in range(3):
        account = AffiliateAccount.objects.select_related("wallet").filter(user=user).first()
        if account is not None:
            return account
        try:
            with transaction.atomic():
                return AffiliateAccount.objects.create(user=user, code=_code(), wallet=Wallet.objects.create())
        except IntegrityError:
            # Another request of the customer opened it meanwhile (or, once in a blue moon, the code was taken).
            continue
    raise RuntimeError(f"could not open the affiliate account of {user}")


def referral_record(*, referred: User, code: str) -> Referral | None:
    """Make `referred` (a customer signing up) referred by the owner of the referral code, once and for good.

    None when the code is nobody's or the customer's own, or when they are referred already: the first stands.
    """
    account = AffiliateAccount.objects.filter(code=code).first() if code else None
    if account is None or account.user_id == referred.pk:
        return None
    try:
        with transaction.atomic():
            return Referral.objects.create(referrer_id=account.user_id, referred=referred)
    except IntegrityError:
        return None


def referral_visit_count(*, account: AffiliateAccount, now: datetime) -> None:
    """Count a visit of the account's referral link, in its month of the affiliate's time zone."""
    try:
        zone = zoneinfo.ZoneInfo(account.user.time_zone or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo("UTC")
    month = timezone.localdate(now, zone).replace(day=1)
    rows = ReferralVisits.objects.filter(account=account, month=month)
    if rows.update(count=F("count") + 1):
        return
    try:
        with transaction.atomic():
            ReferralVisits.objects.create(account=account, month=month, count=1)
    except IntegrityError:
        # The month's first two visits at once: the other one created the row.
        rows.update(count=F("count") + 1)


# --- commissions -------------------------------------------------------------------------------------------------


class Final(Refundable, Protocol):
    """What a commission reads of an order that just became final: a model instance, or a row a poll read."""

    status: str


def commission_percent(account_percent: Decimal | None) -> Decimal:
    """An affiliate's percent: their own where the admin set one, else AFFILIATE_COMMISSION_PERCENT."""
    return settings.AFFILIATE_COMMISSION_PERCENT if account_percent is None else account_percent


@transaction.atomic(savepoint=False)
def commissions_pay(*, orders: Sequence[Final]) -> list[LedgerEntry]:
    """The commissions of orders that just became final, in the caller's transaction (which wrote their status and
    refund): the referrer's percent (as it is now) × (charge − refund), rounded down, once per order; none for
    Canceled, none of 0. An affiliate wallet that owes pays that back first, out of each commission.

    The same few queries however many orders: lock the referrers' affiliate wallets (in id order), skip the orders
    paid already, insert the entries, write the balances. The database refuses a second commission of an order.
    """
    final = [order for order in orders if order.status in Order.FINAL]
    if not final:
        return []
    # The referrers and their wallets, found and locked in one statement (for Canceled orders too, which earn
    # nothing: a chunk takes the same statements whatever it holds). Every commission is written under its
    # wallet's lock, so once these are ours, any commission of these orders another worker made is committed.
    locked = list(
        Wallet.objects.select_for_update(of=("self",))
        .filter(affiliate_account__user__referrals__referred_id__in={order.user_id for order in final})
        .order_by("pk")
        .values_list("pk", "balance", "debt", "affiliate_account__commission_percent",
                     "affiliate_account__user__referrals__referred_id")
    )  # fmt: skip
    if not locked:
        return []
    wallets = {pk: [balance, debt] for pk, balance, debt, _, _ in locked}
    referrer_of = {referred: (pk, commission_percent(percent)) for pk, _, _, percent, referred in locked}
    referred = [order for order in final if order.status in EARNING and order.user_id in referrer_of]
    if not referred:
        return []
    seen = LedgerEntry.objects.filter(
        order_id__in=[order.pk for order in referred], kind__in=[Kind.REFUND, Kind.COMMISSION]
    )
    paid, refunded = set(), {}
    for order_id, kind, amount in seen.values_list("order_id", "kind", "amount"):
        if kind == Kind.COMMISSION:
            paid.add(order_id)
        else:
            refunded[order_id] = amount
    now = timezone.now()
    entries = []
    for order in referred:
        wallet_id, percent = referrer_of[order.user_id]
        amount = commission_amount((order.charge - refunded.get(order.pk, Decimal(0))) * percent / 100)
        if order.pk in paid or amount <= 0:
            continue
        wallets[wallet_id][0] += amount
        entries.append(LedgerEntry(wallet_id=wallet_id, kind=Kind.COMMISSION, amount=amount,
                                   balance_after=wallets[wallet_id][0], order_id=order.pk, created_at=now))  # fmt: skip
    if not entries:
        return []
    _insert(entries)
    repayments = []
    for entry in entries:
        state = wallets[entry.wallet_id]
        repaid = min(state[1], entry.amount, state[0])
        if repaid > 0:
            state[0] -= repaid
            state[1] -= repaid
            repayments.append(LedgerEntry(wallet_id=entry.wallet_id, kind=Kind.DEBT_REPAYMENT, amount=-repaid,
                                          balance_after=state[0], order_id=entry.order_id, cause_id=entry.pk,
                                          created_at=now))  # fmt: skip
    _insert(repayments)
    touched = sorted({entry.wallet_id for entry in entries})
    rows_update(Wallet, ["balance", "debt", "updated_at"], [(pk, *wallets[pk], now) for pk in touched])
    return entries


def _insert(entries: list[LedgerEntry]) -> None:
    values = [
        (e.wallet_id, e.kind, e.amount, e.balance_after, e.order_id, e.cause_id, e.note, e.created_at) for e in entries
    ]
    for entry, pk in zip(entries, rows_insert(LedgerEntry, _LEDGER_FIELDS, values), strict=True):
        entry.pk = pk


def commission_reverse(*, order: Order, refund: LedgerEntry) -> CommissionReversal | None:
    """Take back the share of the order's commission that a later refund gives back, recorded as a
    CommissionReversal (one per later refund): the commission × the refunded share of what it was paid on, rounded
    up, never more in all than the commission. What the affiliate wallet holds is taken (an entry); the rest becomes
    its debt, and operators are alerted. None when the order earned no commission, or nothing is left to take back.

    In the later refund's transaction: the caller holds the order's row lock and then the customer's wallet's.
    """
    rows = LedgerEntry.objects.filter(
        order=order, kind__in=[Kind.REFUND, Kind.LATER_REFUND, Kind.COMMISSION]
    ).values_list("pk", "kind", "amount", "wallet_id")
    commission, own_refund, refunded_before, wallet_id = Decimal(0), Decimal(0), Decimal(0), None
    for pk, kind, amount, entry_wallet_id in rows:
        if kind == Kind.COMMISSION:
            commission, wallet_id = amount, entry_wallet_id
        elif kind == Kind.REFUND:
            own_refund = amount
        elif pk < refund.pk:
            refunded_before += amount
    if wallet_id is None:
        return None
    paid_on = order.charge - own_refund

    def reversed_after(refunded: Decimal) -> Decimal:
        return min(commission, taken_back_amount(commission * refunded / paid_on))

    due = reversed_after(refunded_before + refund.amount) - reversed_after(refunded_before)
    if due <= 0:
        return None
    wallet = Wallet.objects.select_for_update(of=("self",)).select_related("affiliate_account__user").get(pk=wallet_id)
    taken = min(wallet.balance, due)
    owed = due - taken
    entry = None
    if taken > 0:
        entry = wallet_move(wallet, kind=Kind.COMMISSION_REVERSAL, amount=-taken, order=order, cause=refund)
    if owed > 0:
        Wallet.objects.filter(pk=wallet.pk).update(debt=F("debt") + owed)
    reversal = CommissionReversal.objects.create(
        refund=refund, wallet=wallet, due=due, taken=taken, owed=owed, entry=entry
    )
    if owed > 0:
        referrer = wallet.affiliate_account.user
        alert_raise(
            kind=AlertKind.AFFILIATE_DEBT, key=f"commission-reversal:{reversal.pk}",
            subject=f"later refund of order {order.pk}: referrer {referrer} owes {owed}",
            body=f"A later refund of order {order.pk} took back {due} {settings.PANEL_CURRENCY} of the commission "
            f"{referrer} earned on it; their affiliate wallet held {taken}, so {referrer} owes {owed}. Their future "
            "commissions pay it back first; until then they can move or be paid out nothing "
            "(Billing > Commission reversals).",
            url=admin_link("billing_commissionreversal_change", reversal.pk),
        )  # fmt: skip
    return reversal


# --- moving earnings ---------------------------------------------------------------------------------------------


@transaction.atomic
def affiliate_transfer(*, user: User) -> LedgerEntry:
    """Move all of the customer's affiliate balance to their main balance, at once: an entry out of the affiliate
    wallet and one into the main wallet, in one transaction under both locks (the main wallet's first). Returns
    the entry in. Raises AffiliateRefused, changing nothing, while the affiliate wallet owes or below
    AFFILIATE_TRANSFER_MINIMUM; a request repeated at the same moment finds nothing left to move.
    """
    main = wallet_lock(user=user)
    wallet = Wallet.objects.select_for_update().filter(affiliate_account__user=user).first()
    if wallet is not None and wallet.debt > 0:
        raise AffiliateRefused(
            gettext_noop(
                "A refund took back commissions you had earned: you owe %(debt)s, which your next commissions pay "
                "back first. You can move your earnings once it is paid back."
            ),
            debt=money(wallet.debt),
        )
    if wallet is None or wallet.balance <= 0:
        raise AffiliateRefused(gettext_noop("You have no affiliate earnings to move."))
    minimum = settings.AFFILIATE_TRANSFER_MINIMUM
    if wallet.balance < minimum:
        raise AffiliateRefused(
            gettext_noop("You can move your earnings once they reach %(minimum)s."), minimum=money(minimum)
        )
    out = wallet_move(wallet, kind=Kind.TRANSFER_OUT, amount=-wallet.balance)
    return wallet_move(main, kind=Kind.TRANSFER_IN, amount=-out.amount, cause=out)


@transaction.atomic
def affiliate_payout(
    *, account_id: int, amount: Decimal | None, actor: User, note: str, once: str | None = None
) -> LedgerEntry:
    """An operator records earnings paid out outside the panel (a bank transfer, say): all of the affiliate
    balance (`amount` None) or part of it, with a note; `once`, the token of the operator's form, records it once
    however often the form is sent. Audited. Raises AffiliateRefused, changing nothing."""
    note = note.strip()
    if not note:
        raise AffiliateRefused("Say how and where it was paid, in the note.", field="note")
    account = AffiliateAccount.objects.select_related("user").filter(pk=account_id).first()
    if account is None:
        raise AffiliateRefused(f"There is no affiliate account {account_id}.")
    wallet = Wallet.objects.select_for_update().get(pk=account.wallet_id)
    try:
        once_unused(once)
    except SentAlready as exc:
        raise AffiliateRefused(exc.message) from None
    if wallet.debt > 0:
        raise AffiliateRefused(f"{account.user} owes {wallet.debt} of reversed commissions: nothing can be paid out.")
    amount = wallet.balance if amount is None else amount_checked(amount)
    if not 0 < amount <= wallet.balance:
        raise AffiliateRefused(f"{account.user} has {wallet.balance} of affiliate earnings: pay out at most that.")
    entry = wallet_move(wallet, kind=Kind.PAYOUT, amount=-amount, actor=actor, note=note, once=once)
    audit_record(
        actor=actor, action="affiliate.payout", target=account, before={"balance": wallet.balance + amount},
        after={"balance": wallet.balance, "entry": entry.pk}, note=note,
    )  # fmt: skip
    return entry


@transaction.atomic
def affiliate_percent_set(*, account_id: int, percent: Decimal | None, actor: User) -> None:
    """An operator gives a customer their own commission percent (None: back to the panel's). Audited; it applies
    to the orders that become final from now on."""
    if percent is not None and not (percent.is_finite() and 0 <= percent <= 100):
        raise AffiliateRefused("The percent is between 0 and 100 (blank: the panel's setting).", field="percent")
    account = AffiliateAccount.objects.select_for_update().filter(pk=account_id).first()
    if account is None:
        raise AffiliateRefused(f"There is no affiliate account {account_id}.")
    if account.commission_percent == percent:
        return
    before = account.commission_percent
    AffiliateAccount.objects.filter(pk=account.pk).update(commission_percent=percent)
    audit_record(
        actor=actor, action="affiliate.percent", target=account, before={"commission_percent": before},
        after={"commission_percent": percent},
    )  # fmt: skip
