"""The money rules of payments, whatever the gateway: quotes (fee, bonus, limits, currency units), crediting exactly
once (enforced by the database too), taking money back when a payment is refunded or disputed, debt and its
settlement. The gateways' own tests (test_stripe, test_cryptomus) run these paths against fake gateways."""

import queue
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from billing.models import LedgerEntry, Payment, PaymentReversal, Wallet
from billing.payments.base import Event, Report
from billing.payments.services import (
    Outcome,
    PaymentError,
    debt_collect,
    debt_write_off,
    payment_credit,
    payment_quote,
    payment_reverse,
    report_apply,
)
from billing.services import AccountOnHold, InsufficientFunds, InvalidAmount, wallet_credit, wallet_debit
from orders.services.placement import order_place
from tests.concurrency import run_together
from tests.factories import PaymentFactory, PaymentMethodFactory, StripeMethodFactory, UserFactory

Kind = LedgerEntry.Kind
pytestmark = pytest.mark.django_db


def balance(user) -> Decimal:
    return Wallet.objects.get(user=user).balance


def entries(payment: Payment) -> list[tuple[str, Decimal]]:
    return list(payment.ledger_entries.order_by("pk").values_list("kind", "amount"))


# Quotes ---------------------------------------------------------------------------------------------------------


def test_a_quote_adds_the_fee_rounded_up_to_the_cent_and_credits_the_amount_asked():
    method = StripeMethodFactory(fee_percent=Decimal("2.9"), minimum=Decimal(5))
    quote = payment_quote(method_id=method.pk, amount="25.55")
    # 2.9% of 25.55 is 0.74095: the customer pays the fee rounded up to what a card can be charged.
    assert (quote.amount, quote.fee, quote.total) == (Decimal("25.55"), Decimal("0.75"), Decimal("26.30"))


def test_in_a_zero_decimal_currency_the_fee_is_whole_and_the_amount_must_be(settings):
    settings.PANEL_CURRENCY = "JPY"
    method = StripeMethodFactory(fee_percent=Decimal("3.6"), minimum=Decimal(100))
    quote = payment_quote(method_id=method.pk, amount="1000")
    assert (quote.fee, quote.total, quote.currency) == (Decimal(36), Decimal(1036), "JPY")
    assert payment_quote(method_id=method.pk, amount="1001").fee == Decimal(37)  # 36.036 yen, rounded up
    with pytest.raises(InvalidAmount, match="whole amount: JPY has no decimals"):
        payment_quote(method_id=method.pk, amount="1000.5")


def test_a_quote_refuses_amounts_outside_the_methods_limits_and_manual_or_inactive_methods():
    method = StripeMethodFactory(minimum=Decimal(10), maximum=Decimal(500))
    with pytest.raises(InvalidAmount, match=r"The minimum with .* is 10.00 USD"):
        payment_quote(method_id=method.pk, amount="9.99")
    with pytest.raises(InvalidAmount, match=r"The maximum with .* is 500.00 USD"):
        payment_quote(method_id=method.pk, amount="500.01")
    with pytest.raises(InvalidAmount, match="at most 2 decimal places"):
        payment_quote(method_id=method.pk, amount="20.001")
    for amount in ["", "abc", "1e3", "-5", "NaN", "0"]:
        with pytest.raises(InvalidAmount):
            payment_quote(method_id=method.pk, amount=amount)
    for method_id in [PaymentMethodFactory().pk, StripeMethodFactory(is_active=False).pk, "x", None, 10**12]:
        with pytest.raises(PaymentError, match="Choose one of the payment methods"):
            payment_quote(method_id=method_id, amount="20")


def test_the_bonus_is_credited_from_the_bonus_minimum_and_rounded_down():
    method = StripeMethodFactory(bonus_percent=Decimal("7.5"), bonus_minimum=Decimal(50))
    assert payment_quote(method_id=method.pk, amount="49.99").bonus == 0
    assert payment_quote(method_id=method.pk, amount="50").bonus == Decimal("3.75")
    assert payment_quote(method_id=method.pk, amount="50.01").bonus == Decimal("3.75075")


# Crediting exactly once -----------------------------------------------------------------------------------------


def succeeded(payment: Payment, **changes: object) -> Report:
    fields = {"reference": payment.reference, "event": Event.SUCCEEDED, "amount": payment.total,
              "currency": payment.currency, **changes}  # fmt: skip
    return Report(**fields)


def test_a_confirmed_payment_credits_the_amount_and_the_bonus_as_two_entries_once():
    payment = PaymentFactory(amount=Decimal(100), fee=Decimal(3), bonus=Decimal(10))
    assert report_apply(gateway=payment.gateway, report=succeeded(payment)) == Outcome.CREDITED
    assert report_apply(gateway=payment.gateway, report=succeeded(payment)) == Outcome.NOTHING
    payment.refresh_from_db()
    assert payment.state == Payment.State.SUCCEEDED and payment.succeeded_at is not None
    assert entries(payment) == [(Kind.DEPOSIT, Decimal(100)), (Kind.BONUS, Decimal(10))]
    assert balance(payment.user) == Decimal(110)


@pytest.mark.parametrize(
    "changes",
    [{"amount": Decimal("102.99")}, {"amount": Decimal(1000)}, {"currency": "EUR"}, {"amount": None}],
    ids=["a cent short", "more", "another currency", "no amount"],
)
def test_a_report_of_another_amount_or_currency_credits_nothing_and_says_why(changes):
    payment = PaymentFactory(amount=Decimal(100), fee=Decimal(3))
    assert report_apply(gateway=payment.gateway, report=succeeded(payment, **changes)) == Outcome.REFUSED
    payment.refresh_from_db()
    assert payment.state == Payment.State.PENDING
    assert "not credited" in payment.problem
    assert entries(payment) == [] and balance(payment.user) == 0


def test_a_report_about_a_payment_we_did_not_create_or_of_another_gateway_moves_nothing():
    payment = PaymentFactory()
    assert report_apply(gateway=payment.gateway, report=succeeded(payment, reference="pi_unknown")) == Outcome.REFUSED
    assert report_apply(gateway="cryptomus", report=succeeded(payment)) == Outcome.REFUSED
    assert LedgerEntry.objects.count() == 0


def test_a_failed_payment_that_is_paid_after_all_is_credited_and_a_late_failure_changes_nothing():
    payment = PaymentFactory()
    failed = Report(reference=payment.reference, event=Event.FAILED, amount=None, currency="USD", detail="canceled")
    assert report_apply(gateway=payment.gateway, report=failed) == Outcome.FAILED
    assert report_apply(gateway=payment.gateway, report=succeeded(payment)) == Outcome.CREDITED
    assert report_apply(gateway=payment.gateway, report=failed) == Outcome.NOTHING
    payment.refresh_from_db()
    assert payment.state == Payment.State.SUCCEEDED and balance(payment.user) == payment.amount


def test_the_database_refuses_a_second_deposit_or_bonus_for_one_payment():
    payment = PaymentFactory(bonus=Decimal(1))
    payment_credit(payment_id=payment.pk)
    wallet = Wallet.objects.get(user=payment.user)
    for kind in (Kind.DEPOSIT, Kind.BONUS):
        with pytest.raises(IntegrityError), transaction.atomic():
            LedgerEntry.objects.create(wallet=wallet, kind=kind, amount=Decimal(1), balance_after=Decimal(99),
                                       payment=payment)  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_reports_racing_in_threads_credit_a_payment_once():
    payment = PaymentFactory(amount=Decimal(40), bonus=Decimal(4))
    outcomes = run_together(lambda: report_apply(gateway=payment.gateway, report=succeeded(payment)), count=8)
    assert sorted(map(str, outcomes)) == [Outcome.CREDITED] + [Outcome.NOTHING] * 7
    assert entries(payment) == [(Kind.DEPOSIT, Decimal(40)), (Kind.BONUS, Decimal(4))]
    assert balance(payment.user) == Decimal(44)


# Taking money back ----------------------------------------------------------------------------------------------


def credited(**fields: object) -> Payment:
    payment: Payment = PaymentFactory.create(**fields)
    assert payment_credit(payment_id=payment.pk)
    payment.refresh_from_db()
    return payment


def test_a_full_refund_takes_back_the_amount_and_bonus_once_per_gateway_refund():
    payment = credited(amount=Decimal(100), fee=Decimal(3), bonus=Decimal(10))
    wallet_credit(user=payment.user, amount=Decimal(5))
    reversal = payment_reverse(payment_id=payment.pk, kind="refund", reference="re_1", amount=Decimal(103))
    assert reversal is not None and (reversal.taken, reversal.owed) == (Decimal(110), 0)
    assert payment_reverse(payment_id=payment.pk, kind="refund", reference="re_1", amount=Decimal(103)) is None
    payment.refresh_from_db()
    assert payment.state == Payment.State.REFUNDED and payment.reversed_amount == Decimal(110)
    assert balance(payment.user) == Decimal(5)
    assert entries(payment)[-1] == (Kind.REVERSAL, Decimal(-110))


def test_partial_refunds_take_back_their_share_and_never_more_than_was_credited():
    payment = credited(amount=Decimal(100), fee=Decimal(0), bonus=Decimal(10))
    first = payment_reverse(payment_id=payment.pk, kind="refund", reference="re_1", amount=Decimal(30))
    assert first is not None and first.taken == Decimal(33)  # 30% of the 110 credited
    second = payment_reverse(payment_id=payment.pk, kind="refund", reference="re_2", amount=Decimal(100))
    assert second is not None and second.taken == Decimal(77)  # what is left of the 110, not 110 again
    assert balance(payment.user) == 0


def test_a_dispute_after_the_money_was_spent_empties_the_wallet_records_the_debt_and_holds_orders(services):
    payment = credited(amount=Decimal(50), user=UserFactory())
    wallet_debit(user=payment.user, amount=Decimal(30), note="spent")
    reversal = payment_reverse(payment_id=payment.pk, kind="dispute", reference="dp_1", amount=Decimal(50))
    assert reversal is not None and (reversal.taken, reversal.owed) == (Decimal(20), Decimal(30))
    wallet = Wallet.objects.get(user=payment.user)
    assert (wallet.balance, wallet.debt) == (0, Decimal(30))
    payment.refresh_from_db()
    assert payment.state == Payment.State.DISPUTED
    # Money that arrives later does not buy orders while the debt stands.
    wallet_credit(user=payment.user, amount=Decimal(100))
    with pytest.raises(AccountOnHold, match="Your account is on hold"):
        order_place(
            user=payment.user, service_id=services[1].pk, params={"link": "https://x.test/a", "quantity": "100"}
        )
    assert not payment.user.orders.exists()


def test_an_operator_collects_the_debt_from_new_money_and_orders_are_free_again(services, admin_user):
    payment = credited(amount=Decimal(50), user=UserFactory())
    wallet_debit(user=payment.user, amount=Decimal(50), note="spent")
    payment_reverse(payment_id=payment.pk, kind="dispute", reference="dp_1", amount=Decimal(50))
    wallet_credit(user=payment.user, amount=Decimal(20))
    assert debt_collect(user=payment.user, actor=admin_user) == Decimal(20)
    assert Wallet.objects.get(user=payment.user).debt == Decimal(30)
    wallet_credit(user=payment.user, amount=Decimal(45))
    assert debt_collect(user=payment.user, actor=admin_user) == Decimal(30)
    wallet = Wallet.objects.get(user=payment.user)
    assert (wallet.balance, wallet.debt) == (Decimal(15), 0)
    reversal = PaymentReversal.objects.get(payment=payment)
    assert (reversal.collected, reversal.settled_by) == (Decimal(50), admin_user)
    order = order_place(user=payment.user, service_id=services[1].pk,
                        params={"link": "https://x.test/a", "quantity": "100"})  # fmt: skip
    assert order.pk is not None


def test_an_operator_writes_the_debt_off_and_no_money_moves(admin_user):
    payment = credited(amount=Decimal(50), user=UserFactory())
    wallet_debit(user=payment.user, amount=Decimal(50), note="spent")
    payment_reverse(payment_id=payment.pk, kind="refund", reference="re_1", amount=Decimal(50))
    before = LedgerEntry.objects.count()
    assert debt_write_off(user=payment.user, actor=admin_user, note="paid by bank transfer") == Decimal(50)
    assert LedgerEntry.objects.count() == before
    assert Wallet.objects.get(user=payment.user).debt == 0
    reversal = PaymentReversal.objects.get(payment=payment)
    assert (reversal.settlement_note, reversal.settled_by) == ("paid by bank transfer", admin_user)


def test_a_reversal_of_a_payment_never_credited_moves_nothing():
    payment = PaymentFactory()
    assert payment_reverse(payment_id=payment.pk, kind="refund", reference="re_1", amount=Decimal(25)) is None
    assert LedgerEntry.objects.count() == 0 and not PaymentReversal.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_dispute_racing_orders_takes_what_is_left_and_no_order_gets_in_after_it(services):
    user = UserFactory()
    payment = credited(amount=Decimal(100), user=user)
    jobs: queue.SimpleQueue[Callable[[], object]] = queue.SimpleQueue()
    jobs.put(lambda: payment_reverse(payment_id=payment.pk, kind="dispute", reference="dp_1", amount=Decimal(100)))
    for n in range(5):
        jobs.put(lambda n=n: order_place(user=user, service_id=services[1].pk,
                                         params={"link": f"https://x.test/{n}", "quantity": "1000"}))  # fmt: skip

    results = run_together(lambda: jobs.get()(), count=6)

    refused = [r for r in results if isinstance(r, BaseException)]
    assert all(isinstance(r, AccountOnHold | InsufficientFunds) for r in refused), refused
    wallet = Wallet.objects.get(user=user)
    charged = -sum(LedgerEntry.objects.filter(wallet=wallet, kind=Kind.CHARGE).values_list("amount", flat=True))
    reversal = PaymentReversal.objects.get(payment=payment)
    # Orders placed before the dispute spent part of the 100; the dispute took the rest and recorded what they
    # spent as owed; every order after it was refused.
    assert (wallet.balance, reversal.taken, reversal.owed, wallet.debt) == (0, 100 - charged, charged, charged)
