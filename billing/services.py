"""Every movement of money: credits, debits, charges and refunds, each a ledger entry with the wallet update;
and customers' deposit requests, which become a deposit when an operator approves them.

Each runs inside the caller's transaction when there is one (a charge commits with its order), and locks the
wallet row first, so concurrent movements on one wallet happen one after another and never overdraw it.
"""

import functools
import re
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from django.db import IntegrityError, connection, transaction
from django.db.models import DecimalField, F, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_noop

from accounts.models import User
from backoffice.audit import audit_record
from billing.models import (
    REFERENCE_KEY_MAX_LENGTH,
    REFERENCE_MAX_LENGTH,
    CommissionReversal,
    DepositRequest,
    LedgerEntry,
    PaymentMethod,
    Wallet,
    reference_key,
)
from panel.db import rows_insert, rows_update
from panel.errors import ApplicationError
from panel.formatting import money
from panel.ids import record_id
from panel.money import AMOUNT_DIGITS, AMOUNT_PLACES, AMOUNT_QUANTUM, refund_amount
from upstream.messages import ACCOUNT_ON_HOLD, NOT_ENOUGH_FUNDS

if TYPE_CHECKING:
    from billing.models import Payment
    from orders.models import Order

Kind = LedgerEntry.Kind
MAX_AMOUNT = Decimal(10) ** (AMOUNT_DIGITS - AMOUNT_PLACES)
# What a customer may type as an amount: plain ASCII digits with an optional point ("1e3", "1_0", "NaN" are not).
AMOUNT_TEXT = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)", re.ASCII)


class InsufficientFunds(ApplicationError):
    def __init__(self) -> None:
        super().__init__(NOT_ENOUGH_FUNDS)


class InvalidAmount(ApplicationError):
    pass


class AccountOnHold(ApplicationError):
    """The customer owes the panel money a refunded or disputed payment took back: no new orders until an
    operator settles it."""

    def __init__(self) -> None:
        super().__init__(ACCOUNT_ON_HOLD)


class SentAlready(ApplicationError):
    """An operator's form came back with a one-time token a ledger entry carries already: it was sent twice."""

    def __init__(self) -> None:
        super().__init__("This form was sent already; the first sending was recorded.")


def once_unused(once: str | None) -> None:
    """Raise SentAlready when a ledger entry carries this form token. Checked under the lock every sending of the
    form takes (a wallet's, an order's), so the second waits for the first and sees its entry; the unique column
    backs it."""
    if once is not None and LedgerEntry.objects.filter(once=once).exists():
        raise SentAlready()


def amount_checked(amount: Decimal) -> Decimal:
    """A positive amount of at most 5 places, below MAX_AMOUNT; raises InvalidAmount for anything else."""
    if not amount.is_finite() or amount <= 0:
        raise InvalidAmount(gettext_noop("The amount must be a positive number."), field="amount")
    if amount >= MAX_AMOUNT:
        raise InvalidAmount(gettext_noop("The amount is too large."), field="amount")
    if amount.as_tuple().exponent < -AMOUNT_PLACES:  # type: ignore[operator]
        raise InvalidAmount(
            gettext_noop("The amount can have at most %(places)s decimal places."), field="amount", places=AMOUNT_PLACES
        )
    return amount.quantize(AMOUNT_QUANTUM)


def wallet_open(*, user: User) -> None:
    """Give the user their wallet: the one place wallets are created (on sign-up, see BillingConfig.ready)."""
    Wallet.objects.get_or_create(user=user)


def wallet_lock(*, user: User) -> Wallet:
    """The user's wallet, row-locked until the transaction ends: this user's money movements queue here."""
    wallet = Wallet.objects.select_for_update().filter(user=user).first()
    if wallet is None:
        # A user saved without signals (a bulk insert) has none yet.
        wallet_open(user=user)
        wallet = Wallet.objects.select_for_update().get(user=user)
    return wallet


def wallet_move(
    wallet: Wallet,
    *,
    kind: str,
    amount: Decimal,
    order: "Order | None" = None,
    payment: "Payment | None" = None,
    actor: User | None = None,
    cause: LedgerEntry | None = None,
    note: str = "",
    once: str | None = None,
) -> LedgerEntry:
    """Add a signed amount to a wallet that the caller holds row-locked (wallet_lock, or an affiliate wallet's
    lock), and record it. Raises InsufficientFunds rather than take the balance below 0, and SentAlready when the
    form token `once` was used."""
    once_unused(once)
    if kind == Kind.CHARGE and wallet.debt > 0:
        # Checked under the lock that a reversal takes too: no order slips in while the debt is recorded.
        raise AccountOnHold()
    balance = wallet.balance + amount
    if balance < 0:
        raise InsufficientFunds()
    Wallet.objects.filter(pk=wallet.pk).update(balance=balance)
    wallet.balance = balance
    return LedgerEntry.objects.create(
        wallet=wallet,
        kind=kind,
        amount=amount,
        balance_after=balance,
        order=order,
        payment=payment,
        actor=actor,
        cause=cause,
        note=note[:500],
        once=once,
    )


@transaction.atomic
def _post(
    *,
    user: User,
    kind: str,
    amount: Decimal,
    order: "Order | None" = None,
    payment: "Payment | None" = None,
    actor: User | None = None,
    note: str = "",
    once: str | None = None,
) -> LedgerEntry:
    """Add a signed amount to the wallet and record it, under the wallet's row lock."""
    return wallet_move(
        wallet_lock(user=user), kind=kind, amount=amount, order=order, payment=payment, actor=actor, note=note,
        once=once,
    )  # fmt: skip


@functools.cache
def _charge_query() -> str:
    quote = connection.ops.quote_name
    table, balance, debt, user = (quote(name) for name in (Wallet._meta.db_table, "balance", "debt", "user_id"))
    # Only the model's own table and column names, quoted, go into the text; every value is a parameter.
    return (
        f"UPDATE {table} SET {balance} = {balance} - %s "  # noqa: S608  # nosec B608 - quoted identifiers, no values
        f"WHERE {user} = %s AND {balance} >= %s AND {debt} = 0 RETURNING id, {balance}"
    )


def order_charge(*, order: "Order", wallet: Wallet | None = None) -> LedgerEntry:
    """Take an order's charge from its customer's wallet, in the transaction that creates the order. Raises
    InsufficientFunds or AccountOnHold, changing nothing.

    `wallet`: the customer's wallet when the caller already holds its row lock (wallet_lock). Without it, on
    Postgres the debit is one conditional UPDATE (enough money, no debt), which takes the row lock itself.
    """
    amount = amount_checked(order.charge)
    if wallet is None and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_charge_query(), [amount, order.user_id, amount])
            debited = cursor.fetchone()
        if debited is not None:
            wallet_id, balance = debited
            return LedgerEntry.objects.create(
                wallet_id=wallet_id, kind=Kind.CHARGE, amount=-amount, balance_after=balance, order=order
            )
        # Refused: the lock tells why (a debt, too little money, no wallet yet), or charges what a deposit allowed
        # meanwhile.
    if wallet is None:
        wallet = wallet_lock(user=order.user)
    elif order.user_id != wallet.user_id:
        raise ValueError("an order is charged to its own customer's wallet")
    return wallet_move(wallet, kind=Kind.CHARGE, amount=-amount, order=order)


def payment_post(*, payment: "Payment", kind: str, amount: Decimal, actor: User | None = None) -> LedgerEntry:
    """A payment's own movement: its deposit and bonus (positive), or a reversal (negative), under the wallet lock.

    The database allows one deposit and one bonus per payment; the caller holds the payment's row lock.
    """
    if kind not in (Kind.DEPOSIT, Kind.BONUS, Kind.REVERSAL):
        raise ValueError(f"a payment moves a deposit, a bonus or a reversal, not {kind}")
    return _post(user=payment.user, kind=kind, amount=amount, payment=payment, actor=actor)


def _audit_adjustment(entry: LedgerEntry) -> None:
    audit_record(
        actor=entry.actor, action="wallet.credit" if entry.amount > 0 else "wallet.debit", target=entry.wallet,
        before={"balance": entry.balance_after - entry.amount},
        after={"balance": entry.balance_after, "entry": entry.pk},
        note=entry.note,
    )  # fmt: skip


def wallet_credit(
    *,
    user: User,
    amount: Decimal,
    kind: str = Kind.DEPOSIT,
    actor: User | None = None,
    note: str = "",
    once: str | None = None,
) -> LedgerEntry:
    """Money in: a deposit, or an admin's adjustment (`once`: its form's token). Raises SentAlready, changing
    nothing, for a token used before."""
    if kind not in (Kind.DEPOSIT, Kind.ADJUSTMENT):
        raise ValueError(f"a credit is a deposit or an adjustment, not {kind}")
    with transaction.atomic():
        entry = _post(user=user, kind=kind, amount=amount_checked(amount), actor=actor, note=note, once=once)
        if kind == Kind.ADJUSTMENT:
            _audit_adjustment(entry)
    return entry


def wallet_debit(
    *,
    user: User,
    amount: Decimal,
    kind: str = Kind.ADJUSTMENT,
    order: "Order | None" = None,
    actor: User | None = None,
    note: str = "",
    once: str | None = None,
) -> LedgerEntry:
    """Money out: an order's charge, or an admin's adjustment (`once`: its form's token). Raises InsufficientFunds,
    or SentAlready for a token used before, changing nothing."""
    if kind not in (Kind.CHARGE, Kind.ADJUSTMENT):
        raise ValueError(f"a debit is a charge or an adjustment, not {kind}")
    with transaction.atomic():
        entry = _post(user=user, kind=kind, amount=-amount_checked(amount), order=order, actor=actor, note=note,
                      once=once)  # fmt: skip
        if kind == Kind.ADJUSTMENT:
            _audit_adjustment(entry)
    return entry


def refund_issue(*, order: "Order", amount: Decimal, note: str = "") -> LedgerEntry | None:
    """Give back part or all of an order's charge, once: a second call, or a race, refunds nothing more.

    The amount is rounded down and capped at what the order was charged.
    """
    # The order's charge is what its charge entry took (both written in one transaction at placement).
    amount = min(refund_amount(amount), order.charge)
    if amount <= 0:
        return None
    try:
        with transaction.atomic():
            return _post(user=order.user, kind=Kind.REFUND, amount=amount, order=order, note=note)
    except IntegrityError:
        # The unique (order, refund) constraint: another worker refunded it first.
        return None


class Refundable(Protocol):
    """What a batch refund reads of an order: a model instance, or a row a poll read."""

    @property
    def pk(self) -> int: ...
    @property
    def user_id(self) -> int: ...
    @property
    def charge(self) -> Decimal: ...


@transaction.atomic(savepoint=False)
def refunds_issue(*, refunds: "Sequence[tuple[Refundable, Decimal]]", note: str = "") -> list[LedgerEntry]:
    """refund_issue for a whole batch (a polled chunk) in the same few queries however many orders it refunds:
    lock the wallets, skip the orders refunded already, insert the entries, write the balances.

    Orders already refunded are skipped; the database still refuses a second refund of an order.
    """
    wanted = [(order, min(refund_amount(amount), order.charge)) for order, amount in refunds]
    wanted = [(order, amount) for order, amount in wanted if amount > 0]
    if not wanted:
        return []
    # Wallets first, in id order (as every batch takes them, so two batches never wait on each other in a
    # circle). Every refund is written under its wallet's lock, so once these are ours, any refund of these
    # orders that another worker made is committed, and the next query sees it.
    locked = list(
        Wallet.objects.select_for_update()
        .filter(user_id__in={order.user_id for order, _ in wanted})
        .order_by("pk")
        .values_list("user_id", "pk", "balance")
    )
    wallet_of = {user_id: pk for user_id, pk, _ in locked}
    balances = {pk: balance for _, pk, balance in locked}
    done = set(
        LedgerEntry.objects.filter(order_id__in=[order.pk for order, _ in wanted], kind=Kind.REFUND).values_list(
            "order_id", flat=True
        )
    )
    entries, now = [], timezone.now()
    for order, amount in wanted:
        if order.pk in done:
            continue
        wallet_id = wallet_of[order.user_id]
        balances[wallet_id] += amount
        entries.append(LedgerEntry(wallet_id=wallet_id, kind=Kind.REFUND, amount=amount,
                                   balance_after=balances[wallet_id], order_id=order.pk, note=note[:500],
                                   created_at=now))  # fmt: skip
    if not entries:
        return []
    fields = ["wallet", "kind", "amount", "balance_after", "order", "note", "created_at"]
    values = [(e.wallet_id, e.kind, e.amount, e.balance_after, e.order_id, e.note, e.created_at) for e in entries]
    for entry, pk in zip(entries, rows_insert(LedgerEntry, fields, values), strict=True):
        entry.pk = pk
    touched = sorted({entry.wallet_id for entry in entries})
    rows_update(Wallet, ["balance", "updated_at"], [(pk, balances[pk], now) for pk in touched])
    return entries


def refunded_of(*, order: "Order") -> Decimal:
    """What the order's customer got back of its charge so far: its own refund and every later one."""
    refunds = LedgerEntry.objects.filter(order=order, kind__in=[Kind.REFUND, Kind.LATER_REFUND])
    zero = Value(Decimal(0), output_field=DecimalField())
    total: Decimal = refunds.aggregate(total=Coalesce(Sum("amount"), zero))["total"]
    return total


def refund_later_issue(
    *, order: "Order", amount: Decimal | None, actor: User, note: str, once: str | None = None
) -> LedgerEntry:
    """An operator gives back part or all (`amount` None) of what a final order's charge still holds, as a new
    `later_refund` entry (`once`: its form's token). Raises InvalidAmount beyond that, or SentAlready for a token
    used before, changing nothing.

    The caller holds the order's row lock, which every later refund takes first: what was refunded before cannot
    change meanwhile, so the refunds never add up to more than the charge.
    """
    once_unused(once)
    left = order.charge - refunded_of(order=order)
    amount = left if amount is None else amount_checked(amount)
    if left <= 0:
        raise InvalidAmount("Everything this order was charged is refunded already.", field="amount")
    if amount > left:
        raise InvalidAmount(
            "At most %(left)s of this order's charge is left to refund.", field="amount", left=money(left)
        )
    return _post(user=order.user, kind=Kind.LATER_REFUND, amount=amount, order=order, actor=actor, note=note.strip(),
                 once=once)  # fmt: skip


def _summed(rows: QuerySet[Any], field: str) -> Coalesce:
    """The sum of `field` over rows of one wallet (rows filtered by OuterRef("pk")), as a subquery: one per
    annotation, so that sums of different tables never multiply each other's rows."""
    zero = Value(Decimal(0), output_field=DecimalField())
    total = rows.order_by().values("wallet_id").annotate(total=Sum(field)).values("total")
    return Coalesce(Subquery(total, output_field=DecimalField()), zero)


def ledger_mismatches() -> list[Wallet]:
    """Wallets whose balance differs from the sum of their entries (each annotated with that `total`), and
    affiliate wallets whose debt differs from what their commission reversals left owed, less what commissions
    paid back (annotated `owed`). One query, however many wallets."""
    wallets = (
        Wallet.objects.select_related("user", "affiliate_account__user")
        .annotate(
            total=_summed(LedgerEntry.objects.filter(wallet=OuterRef("pk")), "amount"),
            owed=_summed(CommissionReversal.objects.filter(wallet=OuterRef("pk")), "owed")
            + _summed(LedgerEntry.objects.filter(wallet=OuterRef("pk"), kind=Kind.DEBT_REPAYMENT), "amount"),
        )
        .order_by("pk")
    )
    if connection.vendor == "postgresql":
        # Exact numeric arithmetic: the database compares.
        return list(wallets.filter(~Q(balance=F("total")) | (Q(user__isnull=True) & ~Q(debt=F("owed")))))
    # SQLite sums decimals as floats: compare here, at the ledger's precision.
    return [
        w
        for w in wallets
        if w.balance != Decimal(w.total).quantize(AMOUNT_QUANTUM)
        or (w.user_id is None and w.debt != Decimal(w.owed).quantize(AMOUNT_QUANTUM))
    ]


DUPLICATE_REFERENCE = gettext_noop(
    "You already told us about a payment with this reference: it is waiting for us or already credited."
)


def amount_from_text(text: str) -> Decimal:
    text = text.strip()
    if not AMOUNT_TEXT.fullmatch(text):
        raise InvalidAmount(gettext_noop("Enter the amount as a number, like 25 or 25.50."), field="amount")
    return amount_checked(Decimal(text))


def deposit_request_create(*, user: User, method_id: object, amount: str, reference: str) -> DepositRequest:
    """Record a customer's payment as pending; raise ApplicationError (naming its field) at the first problem."""
    value = amount_from_text(amount)
    pk = record_id(method_id)
    method = PaymentMethod.objects.filter(pk=pk, is_active=True).first() if pk is not None else None
    if method is None:
        raise ApplicationError(gettext_noop("Choose one of the payment methods."), field="method")
    if value < method.minimum:
        raise InvalidAmount(
            gettext_noop("The minimum with %(method)s is %(minimum)s."),
            field="amount",
            method=method.name,
            minimum=money(method.minimum),
        )
    reference = reference.strip()
    if not reference:
        raise ApplicationError(
            gettext_noop("Enter the reference of your payment, so that we can find it."), field="reference"
        )
    key = reference_key(reference)
    if len(reference) > REFERENCE_MAX_LENGTH or len(key) > REFERENCE_KEY_MAX_LENGTH:
        raise ApplicationError(
            gettext_noop("The reference can be at most %(max)s characters long."),
            field="reference",
            max=REFERENCE_MAX_LENGTH,
        )
    try:
        with transaction.atomic():
            return DepositRequest.objects.create(
                user=user, method=method, amount=value, reference=reference, reference_key=key
            )
    except IntegrityError:
        # Another request of any customer, pending or approved, is about this payment already.
        raise ApplicationError(DUPLICATE_REFERENCE, field="reference") from None


class SharedReference(ApplicationError):
    """Another open request is about the same payment: approving this one could credit the payment twice."""


@transaction.atomic
def deposit_approve(*, deposit_id: int, actor: User) -> bool:
    """Credit a pending deposit request to its customer, once: approving it again, even concurrently, does nothing.

    Raise SharedReference when another pending or approved request has the same method and reference.
    """
    # A concurrent approval waits on the row lock, then no longer sees the row as pending.
    deposit = (
        DepositRequest.objects.select_for_update(of=("self",))
        .select_related("user", "method")
        .filter(pk=deposit_id, status=DepositRequest.Status.PENDING)
        .first()
    )
    if deposit is None:
        return False
    # The database allows one open request per payment; this also covers rows from before that rule.
    twin = (
        DepositRequest.objects.filter(
            method_id=deposit.method_id,
            reference_key=reference_key(deposit.reference),
            status__in=[DepositRequest.Status.PENDING, DepositRequest.Status.APPROVED],
        )
        .exclude(pk=deposit.pk)
        .order_by("pk")
        .first()
    )
    if twin is not None:
        raise SharedReference(
            "Deposit request %(deposit)s was not approved: request %(twin)s (%(status)s) has the same method and "
            "reference, so they may be one payment. Check, and reject the one that is not.",
            deposit=deposit.pk,
            twin=twin.pk,
            status=twin.get_status_display(),
        )
    deposit.entry = wallet_credit(
        user=deposit.user,
        amount=deposit.amount,
        kind=Kind.DEPOSIT,
        actor=actor,
        # The customer's own words only (method and reference): the page shows the note as it is.
        note=f"{deposit.method.name} · {deposit.reference}",
    )
    deposit.status = DepositRequest.Status.APPROVED
    deposit.decided_by = actor
    deposit.decided_at = timezone.now()
    deposit.save(update_fields=["entry", "status", "decided_by", "decided_at"])
    audit_record(
        actor=actor, action="deposit.approve", target=deposit, before={"status": DepositRequest.Status.PENDING},
        after={"status": deposit.status, "amount": deposit.amount, "entry": deposit.entry.pk},
    )  # fmt: skip
    return True


@transaction.atomic
def deposit_reject(*, deposit_id: int, actor: User, note: str) -> bool:
    """Refuse a pending deposit request with a note the customer sees; a decided one stays as it is."""
    note = note.strip()[:500]
    rejected = DepositRequest.objects.filter(pk=deposit_id, status=DepositRequest.Status.PENDING).update(
        status=DepositRequest.Status.REJECTED, note=note, decided_by=actor, decided_at=timezone.now()
    )
    if rejected:
        audit_record(
            actor=actor, action="deposit.reject", target=DepositRequest.objects.get(pk=deposit_id),
            before={"status": DepositRequest.Status.PENDING}, after={"status": DepositRequest.Status.REJECTED},
            note=note,
        )  # fmt: skip
    return rejected == 1
