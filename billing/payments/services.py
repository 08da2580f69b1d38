"""Payments through gateways: start one, apply what a gateway reports, take money back, settle debts.

Money rules (DESIGN.md "Payments"):
- A payment is credited when it moves to succeeded, in the transaction of that move: a conditional UPDATE that
  hits one row at most, so the webhook, the return page, the sweeper and a retry can race and only one credits
  (and the database allows one deposit entry per payment besides).
- A report is applied only when it is about one of our payments and, to credit, when amount and currency are
  what we asked for. The gateway module has verified the signature before.
- No gateway call inside a database transaction: calls happen before or after, never while a row is locked.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from urllib.parse import urlencode

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_noop

from accounts.models import User
from backoffice.alerts import Kind as AlertKind
from backoffice.alerts import admin_link, alert_raise, alerts_resolve
from backoffice.audit import audit_record
from backoffice.models import Alert
from billing.models import LedgerEntry, Payment, PaymentMethod, PaymentReversal, Wallet
from billing.payments import gateway_of
from billing.payments.base import (
    Event,
    GatewayError,
    Notification,
    NotificationRefused,
    Report,
    UnsupportedCurrency,
    currency_places,
    round_up_to_currency,
)
from billing.services import InvalidAmount, amount_from_text, payment_post, wallet_lock
from panel.errors import ApplicationError
from panel.formatting import money
from panel.ids import record_id
from panel.money import AMOUNT_QUANTUM

logger = logging.getLogger(__name__)
Kind = LedgerEntry.Kind
State = Payment.State


class PaymentError(ApplicationError):
    pass


GATEWAY_DOWN = gettext_noop("The payment could not be started just now: try again in a moment, or use another method.")


# Quoting --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PaymentQuote:
    method: PaymentMethod
    amount: Decimal  # what the wallet gets
    fee: Decimal  # paid on top
    bonus: Decimal  # credited on top, as a bonus entry
    currency: str

    @property
    def total(self) -> Decimal:
        return self.amount + self.fee


def fee_of(method: PaymentMethod, amount: Decimal, currency: str) -> Decimal:
    """The method's fee on an amount, rounded up to the currency's smallest unit (the customer pays it)."""
    if not method.fee_percent:
        return Decimal(0)
    return round_up_to_currency(amount * method.fee_percent / 100, currency)


def bonus_of(method: PaymentMethod, amount: Decimal) -> Decimal:
    """The method's bonus on an amount: bonus percent of it when it is at least the bonus minimum, rounded down."""
    if not method.bonus_percent or amount < method.bonus_minimum:
        return Decimal(0)
    return (amount * method.bonus_percent / 100).quantize(AMOUNT_QUANTUM, rounding=ROUND_FLOOR)


def payment_quote(*, method_id: object, amount: str) -> PaymentQuote:
    """Check a payment a customer asks for, moving nothing; raise PaymentError (naming its field) at a problem."""
    pk = record_id(method_id)
    method = PaymentMethod.objects.filter(pk=pk, is_active=True).first() if pk is not None else None
    if method is None or method.is_manual:
        raise PaymentError(gettext_noop("Choose one of the payment methods."), field="method")
    currency = settings.PANEL_CURRENCY
    value = amount_from_text(amount)
    try:
        places = currency_places(currency)
    except UnsupportedCurrency:
        raise PaymentError(GATEWAY_DOWN, field="method") from None
    if value != value.quantize(Decimal(1).scaleb(-places)):
        if places == 0:
            raise InvalidAmount(gettext_noop("Enter a whole amount: %(currency)s has no decimals."), field="amount",
                                currency=currency)  # fmt: skip
        raise InvalidAmount(gettext_noop("The amount can have at most %(places)s decimal places."), field="amount",
                            places=places)  # fmt: skip
    if value < method.minimum:
        raise InvalidAmount(gettext_noop("The minimum with %(method)s is %(minimum)s."), field="amount",
                            method=method.name, minimum=money(method.minimum))  # fmt: skip
    if method.maximum is not None and value > method.maximum:
        raise InvalidAmount(gettext_noop("The maximum with %(method)s is %(maximum)s."), field="amount",
                            method=method.name, maximum=money(method.maximum))  # fmt: skip
    return PaymentQuote(method=method, amount=value, fee=fee_of(method, value, currency),
                        bonus=bonus_of(method, value), currency=currency)  # fmt: skip


# Starting -------------------------------------------------------------------------------------------------------


def payment_start(*, user: User, method_id: object, amount: str, urls: Callable[[Payment], tuple[str, str]]) -> Payment:
    """Create the payment here, then at its gateway (outside any transaction); `urls(payment)` gives the return
    URL and the notification URL. A gateway that fails leaves the payment failed and raises PaymentError."""
    quote = payment_quote(method_id=method_id, amount=amount)
    payment = Payment.objects.create(
        user=user, method=quote.method, gateway=quote.method.gateway, amount=quote.amount, fee=quote.fee,
        bonus=quote.bonus, currency=quote.currency,
    )  # fmt: skip
    return_url, notify_url = urls(payment)
    try:
        started = gateway_of(quote.method).start(payment, return_url=return_url, notify_url=notify_url)
    except GatewayError as exc:
        logger.warning("payment %s: %s could not start it: %s", payment.pk, payment.gateway, exc)
        Payment.objects.filter(pk=payment.pk, state=State.CREATED).update(state=State.FAILED, problem=str(exc)[:500])
        raise PaymentError(GATEWAY_DOWN) from None
    Payment.objects.filter(pk=payment.pk, state=State.CREATED).update(
        state=State.PENDING, reference=started.reference, client_secret=started.client_secret,
        redirect_url=started.redirect_url,
    )  # fmt: skip
    payment.refresh_from_db()
    return payment


# Applying what a gateway reports --------------------------------------------------------------------------------


class Outcome:
    CREDITED = "credited"
    REVERSED = "reversed"
    FAILED = "failed"
    NOTHING = "nothing"  # nothing new: already applied, or nothing to do
    REFUSED = "refused"  # not ours, or not what we asked for: no money moved


def _problem(payment: Payment, text: str) -> None:
    logger.warning("payment %s (%s %s): %s", payment.pk, payment.gateway, payment.reference, text)
    Payment.objects.filter(pk=payment.pk).update(problem=text[:500])


def report_apply(*, gateway: str, report: Report, method_id: int | None = None, fetched: bool = False) -> str:
    """Apply a verified report of a gateway to our payment it names; return an Outcome.

    `method_id`: the method whose credentials verified the report, which must be the payment's own (a secret of
    one account never vouches for another's payments). `fetched`: the report is the gateway's answer to our own
    question (payment_check), not a notification.
    """
    payments = Payment.objects.filter(gateway=gateway, reference=report.reference)
    if method_id is not None:
        payments = payments.filter(method_id=method_id)
    payment = payments.first()
    if payment is None:
        logger.warning("%s reported payment %r, which is not one of ours: ignored", gateway, report.reference[:100])
        return Outcome.REFUSED
    if report.refusal:
        _problem(payment, report.refusal)
        return Outcome.REFUSED
    if report.event == Event.SUCCEEDED:
        if report.currency.upper() != payment.currency or report.amount != payment.total:
            _problem(payment, f"reported paid {report.amount} {report.currency.upper()}, we asked for "
                              f"{payment.total} {payment.currency}: not credited")  # fmt: skip
            return Outcome.REFUSED
        return Outcome.CREDITED if payment_credit(payment_id=payment.pk) else Outcome.NOTHING
    if report.event == Event.FAILED:
        failed = Payment.objects.filter(pk=payment.pk, state__in=Payment.OPEN).update(
            state=State.FAILED, problem=report.detail[:500]
        )
        return Outcome.FAILED if failed else Outcome.NOTHING
    if report.event == Event.REINSTATED:
        _problem(payment, f"dispute won: {report.amount} {report.currency} reinstated by the bank")
        _alert(payment, f"payment-dispute-won:{payment.pk}", f"payment {payment.pk}: dispute won",
               f"The bank reinstated {report.amount} {report.currency} of payment {payment.pk} of {payment.user}. "
               "Nothing was credited back: credit the wallet with an adjustment if the customer should have "
               "it.")  # fmt: skip
        return Outcome.NOTHING
    if report.event in (Event.REFUNDED, Event.DISPUTED):
        if report.amount is None or report.amount <= 0 or report.currency.upper() != payment.currency:
            _problem(payment, f"reported a {report.event} of {report.amount} {report.currency}: not applied")
            return Outcome.REFUSED
        if payment.state not in Payment.CREDITED and not fetched:
            # Paid, then refunded or disputed, before we heard of the payment (its notification was lost): ask the
            # gateway, which credits it when it was paid as asked, so that the reversal below takes it back.
            payment_check(payment_id=payment.pk)
            payment.refresh_from_db()
        if payment.state not in Payment.CREDITED:
            _problem(payment, f"{report.event} before it was credited: nothing to take back, check it at the gateway")
            _alert(payment, f"payment-{report.event}-uncredited:{payment.pk}",
                   f"payment {payment.pk}: {report.event} before it was credited",
                   f"{payment.gateway} reported a {report.event} of {report.amount} {report.currency} for payment "
                   f"{payment.pk} of {payment.user}, which was never credited here.")  # fmt: skip
            return Outcome.NOTHING
        kind = PaymentReversal.Kind.REFUND if report.event == Event.REFUNDED else PaymentReversal.Kind.DISPUTE
        reversal = payment_reverse(
            payment_id=payment.pk, kind=kind, reference=report.reversal_reference or report.reference,
            amount=report.amount,
        )  # fmt: skip
        return Outcome.REVERSED if reversal is not None else Outcome.NOTHING
    # PENDING: the customer is paying. What the gateway says of it (a declined card, too little crypto sent) is
    # kept for operators.
    if report.detail:
        Payment.objects.filter(pk=payment.pk, state__in=Payment.OPEN).update(problem=report.detail[:500])
    return Outcome.NOTHING


@transaction.atomic
def payment_credit(*, payment_id: int) -> bool:
    """Move the payment to succeeded and credit it (deposit, then bonus), once: False when it already was.

    A failed payment can still succeed (a customer who pays after all): the money arrived, so it is credited.
    """
    moved = Payment.objects.filter(pk=payment_id, state__in=[*Payment.OPEN, State.FAILED]).update(
        state=State.SUCCEEDED, succeeded_at=timezone.now(), problem=""
    )
    if moved != 1:
        return False
    payment = Payment.objects.select_related("user", "method").get(pk=payment_id)
    payment_post(payment=payment, kind=Kind.DEPOSIT, amount=payment.amount)
    if payment.bonus > 0:
        payment_post(payment=payment, kind=Kind.BONUS, amount=payment.bonus)
    logger.info("payment %s credited: %s %s to %s", payment.pk, payment.amount, payment.currency, payment.user)
    return True


def payment_check(*, payment_id: int) -> str:
    """Ask the gateway for an open payment's state and apply it (the return page, the sweeper)."""
    payment = Payment.objects.select_related("method").filter(pk=payment_id).first()
    if payment is None or payment.reference is None or payment.state not in (*Payment.OPEN, State.FAILED):
        return Outcome.NOTHING
    try:
        report = gateway_of(payment.method).fetch(payment)
    except GatewayError as exc:
        logger.info("payment %s: could not ask %s for its state: %s", payment.pk, payment.gateway, exc)
        return Outcome.NOTHING
    if report.reference != payment.reference:
        _problem(payment, "the gateway answered about another payment: ignored")
        return Outcome.REFUSED
    if report.event == Event.FAILED and payment.state == State.FAILED:
        return Outcome.NOTHING
    return report_apply(gateway=payment.gateway, report=report, method_id=payment.method_id, fetched=True)


def notification_receive(*, gateway: str, notification: Notification) -> str | None:
    """Verify a gateway's notification with each method of that gateway and apply it; None when no method's
    credentials verify it (a forged or garbled callback: logged, nothing moved)."""
    methods = PaymentMethod.objects.filter(gateway=gateway).order_by("-is_active", "pk")
    reasons = []
    for method in methods:
        try:
            reports = gateway_of(method).read(notification)
        except NotificationRefused as exc:
            reasons.append(str(exc))
            continue
        outcomes = [report_apply(gateway=gateway, report=report, method_id=method.pk) for report in reports]
        return next((o for o in outcomes if o != Outcome.NOTHING), Outcome.NOTHING)
    logger.warning(
        "%s notification refused (from %s): %s", gateway, notification.remote_address or "?",
        "; ".join(reasons) or "no payment method uses this gateway",
    )  # fmt: skip
    return None


def payments_check_open(*, older_than_minutes: int, expire_hours: int | None = None, limit: int = 200) -> int:
    """payment_check the open payments older than that, least recently asked first (a lost notification never
    loses money); one still unpaid after `expire_hours` fails as expired. Returns how many were credited."""
    now = timezone.now()
    expire_hours = settings.PAYMENT_EXPIRE_HOURS if expire_hours is None else expire_hours
    ids = list(
        Payment.objects.filter(state__in=Payment.OPEN, reference__isnull=False,
                               created_at__lt=now - timedelta(minutes=older_than_minutes))
        .order_by("updated_at")
        .values_list("pk", flat=True)[:limit]
    )  # fmt: skip
    credited = 0
    for pk in ids:
        credited += payment_check(payment_id=pk) == Outcome.CREDITED
        # To the back of the queue: abandoned payments never crowd out the newer ones.
        Payment.objects.filter(pk=pk, state__in=Payment.OPEN).update(updated_at=timezone.now())
    Payment.objects.filter(
        pk__in=ids, state__in=Payment.OPEN, created_at__lt=now - timedelta(hours=expire_hours)
    ).update(
        state=State.FAILED,
        problem=f"Not paid within {expire_hours} hours: expired (still credited if the gateway confirms it later).",
    )
    return credited


# Taking money back ----------------------------------------------------------------------------------------------


def _wallet_value(payment: Payment, paid_back: Decimal) -> Decimal:
    """What a refund of `paid_back` (of the total the customer paid) takes from the wallet: the same share of the
    amount and bonus credited, rounded up, never more than is left of them."""
    credited = payment.amount + payment.bonus
    share = credited if paid_back >= payment.total else credited * paid_back / payment.total
    return min(share.quantize(AMOUNT_QUANTUM, rounding=ROUND_CEILING), credited - payment.reversed_amount)


def _alert(payment: Payment, key: str, subject: str, body: str, url: str = "") -> None:
    """Tell operators once per incident (a webhook delivered again raises nothing new)."""
    logger.error("%s: %s", subject, body)
    url = url or admin_link("billing_payment_change", payment.pk)
    alert_raise(kind=AlertKind.PAYMENT_DISPUTE, key=key, subject=subject, body=body, url=url)


def _reversal_key(reversal_id: int) -> str:
    return f"payment-reversal:{reversal_id}"


@transaction.atomic
def payment_reverse(
    *, payment_id: int, kind: str, reference: str, amount: Decimal, actor: User | None = None
) -> PaymentReversal | None:
    """Take back what a refund or dispute of `amount` (currency units paid back) calls for, once per gateway
    reference: what the wallet holds now, and the rest as debt (which holds new orders). None when nothing to do."""
    # Lock the payment row only, and as an UPDATE would (no key lock): a full lock of the joined user row, or one
    # that blocks rows referring to this payment, would deadlock with an order or a debt collection meanwhile.
    payment = (
        Payment.objects.select_for_update(of=("self",), no_key=True)
        .select_related("user")
        .filter(pk=payment_id)
        .first()
    )
    if payment is None or payment.state not in Payment.CREDITED:
        return None
    existing = PaymentReversal.objects.filter(payment=payment, reference=reference).first()
    if existing is not None:
        if actor is not None and existing.actor_id is None:
            # The gateway's notification of our own refund came first: record who asked for it.
            PaymentReversal.objects.filter(pk=existing.pk).update(actor=actor)
            audit_record(
                actor=actor, action="payment.refund", target=payment, before={},
                after={"reversal": existing.pk, "amount": existing.amount, "taken": existing.taken,
                       "owed": existing.owed},
                note="The gateway's notification had taken the money back already.",
            )  # fmt: skip
        return None
    value = max(_wallet_value(payment, amount), Decimal(0))
    wallet = wallet_lock(user=payment.user)
    taken = min(wallet.balance, value)
    owed = value - taken
    entry = payment_post(payment=payment, kind=Kind.REVERSAL, amount=-taken, actor=actor) if taken > 0 else None
    if owed > 0:
        Wallet.objects.filter(pk=wallet.pk).update(debt=F("debt") + owed)
    state = State.DISPUTED if kind == PaymentReversal.Kind.DISPUTE else State.REFUNDED
    Payment.objects.filter(pk=payment.pk).update(state=state, reversed_amount=F("reversed_amount") + value)
    reversal = PaymentReversal.objects.create(
        payment=payment, kind=kind, reference=reference[:255], amount=amount, taken=taken, owed=owed, entry=entry,
        actor=actor,
    )  # fmt: skip
    if actor is not None:
        audit_record(
            actor=actor, action="payment.refund", target=payment,
            before={"state": payment.state, "reversed_amount": payment.reversed_amount, "balance": wallet.balance,
                    "debt": wallet.debt},
            after={"state": state, "reversed_amount": payment.reversed_amount + value,
                   "balance": wallet.balance - taken, "debt": wallet.debt + owed, "reversal": reversal.pk,
                   "amount": amount},
        )  # fmt: skip
    what = "disputed" if kind == PaymentReversal.Kind.DISPUTE else "refunded"
    if owed > 0:
        debts = admin_link(
            "billing_paymentreversal_changelist", query=urlencode({"debt": "open", "q": payment.user.username})
        )
        _alert(
            payment, _reversal_key(reversal.pk),
            f"payment {payment.pk} {what}: {payment.user} owes {owed}",
            f"Payment {payment.pk} of {payment.user} was {what} ({amount} {payment.currency}). The wallet held "
            f"{taken} of the {value} to take back: {owed} {settings.PANEL_CURRENCY} is owed, and the customer can "
            "place no order until an operator settles it (Billing > Payment reversals).",
            debts,
        )  # fmt: skip
    elif kind == PaymentReversal.Kind.DISPUTE:
        _alert(payment, _reversal_key(reversal.pk), f"payment {payment.pk} disputed",
               f"Payment {payment.pk} of {payment.user} was disputed: {taken} {settings.PANEL_CURRENCY} was taken back "
               "from the wallet.")  # fmt: skip
    return reversal


class RefundRefused(ApplicationError):
    pass


def payment_refund(*, payment_id: int, amount: Decimal | None, actor: User) -> PaymentReversal | None:
    """An operator's refund: through the gateway first (outside any transaction), then taken from the wallet.

    `amount` is in the currency paid (None: all that is left of the total).
    """
    payment = Payment.objects.select_related("method").filter(pk=payment_id).first()
    if payment is None or payment.state not in (State.SUCCEEDED, State.REFUNDED):
        raise RefundRefused("Only a credited payment that is not disputed can be refunded.")
    gateway = gateway_of(payment.method)
    if not gateway.can_refund:
        raise RefundRefused(f"{payment.method.name} cannot refund through its API: refund in its dashboard.")
    paid_back = sum((r.amount for r in payment.reversals.all()), Decimal(0))
    left = payment.total - paid_back
    amount = left if amount is None else amount
    if amount <= 0 or amount > left:
        raise RefundRefused(f"Refund between 0 and {left} {payment.currency}: the rest was given back already.")
    try:
        refunded = gateway.refund(payment, amount)
    except ValueError:
        # Not a whole number of the currency's smallest unit (10.005 USD, 10.5 JPY).
        raise RefundRefused(f"{amount} {payment.currency} cannot be paid back: use whole cents (whole units for "
                            f"{payment.currency} if it has no decimals).") from None  # fmt: skip
    except GatewayError as exc:
        raise RefundRefused(f"{payment.method.name} refused the refund: {exc}") from None
    if not refunded.done:
        # Under way at the gateway: its notification that the refund succeeded takes the money from the wallet.
        logger.info("payment %s: refund %s of %s pending at %s", payment.pk, refunded.reference, amount,
                    payment.gateway)  # fmt: skip
        audit_record(
            actor=actor, action="payment.refund_requested", target=payment, before={"state": payment.state},
            after={"state": payment.state, "amount": amount, "reference": refunded.reference},
            note="Under way at the gateway: the wallet is debited when it confirms.",
        )  # fmt: skip
        return None
    return payment_reverse(
        payment_id=payment.pk, kind=PaymentReversal.Kind.REFUND, reference=refunded.reference, amount=amount,
        actor=actor,
    )  # fmt: skip


# Settling debts -------------------------------------------------------------------------------------------------


def _open_debts() -> Q:
    return Q(owed__gt=F("collected"), settled_at__isnull=True)


@transaction.atomic
def debt_collect(*, user: User, actor: User) -> Decimal:
    """Take what the wallet now holds towards the customer's debt (oldest reversal first); return the amount."""
    wallet = wallet_lock(user=user)
    collected = Decimal(0)
    for reversal in (
        PaymentReversal.objects.select_for_update(of=("self",), no_key=True)
        .filter(_open_debts(), payment__user=user)
        .order_by("pk")
    ):
        left = reversal.owed - reversal.collected
        take = min(left, wallet.balance - collected)
        if take <= 0:
            break
        payment_post(payment=reversal.payment, kind=Kind.REVERSAL, amount=-take, actor=actor)
        collected += take
        done = take == left
        PaymentReversal.objects.filter(pk=reversal.pk).update(
            collected=F("collected") + take,
            settled_at=timezone.now() if done else None,
            settled_by=actor if done else None,
            settlement_note="Collected from the wallet." if done else "",
        )
    if collected:
        Wallet.objects.filter(pk=wallet.pk).update(debt=F("debt") - collected)
        audit_record(
            actor=actor, action="debt.collect", target=wallet, before={"balance": wallet.balance, "debt": wallet.debt},
            after={"balance": wallet.balance - collected, "debt": wallet.debt - collected},
        )  # fmt: skip
    _debts_settled(user)
    return collected


@transaction.atomic
def debt_write_off(*, user: User, actor: User, note: str) -> Decimal:
    """Forgive the customer's open debt (the operator settled it outside the panel); return the amount."""
    wallet = wallet_lock(user=user)
    forgiven = Decimal(0)
    for reversal in PaymentReversal.objects.select_for_update(of=("self",), no_key=True).filter(
        _open_debts(), payment__user=user
    ):
        forgiven += reversal.owed - reversal.collected
        PaymentReversal.objects.filter(pk=reversal.pk).update(
            settled_at=timezone.now(), settled_by=actor, settlement_note=note.strip()[:500] or "Written off."
        )
    if forgiven:
        Wallet.objects.filter(pk=wallet.pk).update(debt=F("debt") - forgiven)
        audit_record(
            actor=actor, action="debt.write_off", target=wallet, before={"debt": wallet.debt},
            after={"debt": wallet.debt - forgiven}, note=note.strip(),
        )  # fmt: skip
    _debts_settled(user)
    return forgiven


def _debts_settled(user: User) -> None:
    """Reversals whose debt is settled: their incidents are over."""
    settled = PaymentReversal.objects.filter(payment__user=user, owed__gt=0, settled_at__isnull=False)
    keys = [_reversal_key(pk) for pk in settled.values_list("pk", flat=True)]
    alerts_resolve(alerts=Alert.objects.filter(key__in=keys))
