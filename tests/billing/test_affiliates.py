"""The affiliate program: commissions exactly once whatever closes an order, their reversal by later refunds,
moving earnings, referrals fixed at sign-up and never by oneself, and the affiliates page, scoped to its owner."""

import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from decimal import Decimal
from io import StringIO
from unittest import mock
from uuid import uuid4

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from backoffice.models import Alert, AuditEntry
from billing.affiliates.http import COOKIE
from billing.affiliates.services import (
    CODE_ALPHABET,
    AffiliateRefused,
    affiliate_account_open,
    affiliate_payout,
    affiliate_transfer,
    referral_record,
)
from billing.models import AffiliateAccount, CommissionReversal, LedgerEntry, Referral, ReferralVisits, Wallet
from billing.services import ledger_mismatches, wallet_credit, wallet_debit
from billing.tasks import check_ledger
from orders.models import Order
from orders.services.forwarding import order_forward
from orders.services.operators import order_finish, order_refund_later
from orders.services.placement import order_place
from orders.services.polling import PollReport, _apply, _claim, poll_statuses
from orders.validation import OrderError
from tests.concurrency import run_together
from tests.factories import OrderFactory, ServiceFactory, UserFactory, second_factor_confirmed
from upstream.protocol import ItemError, OrderState, OrderStatus

pytestmark = pytest.mark.django_db

D = Decimal
Kind = LedgerEntry.Kind
Status = Order.Status
PASSWORD = "correct horse battery staple"
SIGNUP = {"username": "newcomer", "email": "newcomer@example.com", "password": PASSWORD, "password_again": PASSWORD}


def _refer(referrer: User, referred: User) -> Referral:
    referral = referral_record(referred=referred, code=affiliate_account_open(user=referrer).code)
    assert referral is not None
    return referral


def _order(user: User, charge: str, **fields: object) -> Order:
    """An order as placed: its charge taken from the customer's wallet."""
    order = OrderFactory.create(user=user, charge=D(charge), **fields)
    wallet_debit(user=user, amount=order.charge, kind=Kind.CHARGE, order=order)
    return order


def _earnings(user: User) -> Wallet:
    return Wallet.objects.get(affiliate_account__user=user)


def _commissions(order: Order) -> list[Decimal]:
    return list(LedgerEntry.objects.filter(order=order, kind=Kind.COMMISSION).values_list("amount", flat=True))


@contextmanager
def _clock(when: datetime) -> Iterator[None]:
    """Rows created meanwhile are dated `when` (ledger entries and referrals can never be changed afterwards)."""
    with mock.patch("django.utils.timezone.now", return_value=when):
        yield


@pytest.fixture(autouse=True)
def _settings(settings) -> None:
    """The defaults, and no minimum to move (each test of the minimum sets one); no sign-up counted earlier."""
    settings.AFFILIATE_COMMISSION_PERCENT = D(5)
    settings.AFFILIATE_COOKIE_DAYS = 30
    settings.AFFILIATE_TRANSFER_MINIMUM = D(0)
    cache.clear()


@pytest.fixture
def bob_referred(alice, bob):
    """Bob, referred by alice, with 100.00 to spend."""
    _refer(alice, bob)
    wallet_credit(user=bob, amount=D(100))
    return bob


@pytest.fixture
def operator(db) -> User:
    return UserFactory.create(username="olivia", is_staff=True, is_superuser=True)


# --- commission math ---------------------------------------------------------------------------------------------


def test_it_pays_the_referrer_a_commission_rounded_down_when_an_order_completes(alice, bob_referred, operator):
    order = _order(bob_referred, "1.23457")
    order_finish(order_id=order.pk, status=Status.COMPLETED, actor=operator)
    # 5% of 1.23457 = 0.0617285, rounded down to the amount quantum.
    assert _commissions(order) == [D("0.06172")]
    earnings = _earnings(alice)
    assert (earnings.balance, earnings.debt) == (D("0.06172"), D(0))
    assert Wallet.objects.get(user=alice).balance == D(100)  # the main wallet is another balance


def test_it_pays_on_the_net_of_a_partial_order(alice, bob_referred, operator):
    order = _order(bob_referred, "3.00000", quantity=1000)
    order_finish(order_id=order.pk, status=Status.PARTIAL, remains=250, actor=operator)
    # 3.00 − 0.75 refunded = 2.25; 5% of it = 0.1125.
    assert LedgerEntry.objects.get(order=order, kind=Kind.REFUND).amount == D("0.75000")
    assert _commissions(order) == [D("0.11250")]


def test_it_pays_nothing_for_a_canceled_order(alice, bob_referred, operator):
    order = _order(bob_referred, "3.00000")
    order_finish(order_id=order.pk, status=Status.CANCELED, actor=operator)
    assert _commissions(order) == []
    assert _earnings(alice).balance == 0


def test_it_pays_nothing_when_the_commission_rounds_to_zero(alice, bob_referred, operator):
    order = _order(bob_referred, "0.00019")  # 5% = 0.0000095
    order_finish(order_id=order.pk, status=Status.COMPLETED, actor=operator)
    assert _commissions(order) == []


def test_it_uses_the_referrers_own_percent_as_it_is_when_the_order_ends(alice, bob_referred, operator, settings):
    settings.AFFILIATE_COMMISSION_PERCENT = D(5)
    first, second = _order(bob_referred, "10"), _order(bob_referred, "10")
    AffiliateAccount.objects.filter(user=alice).update(commission_percent=D("12.5"))
    order_finish(order_id=first.pk, status=Status.COMPLETED, actor=operator)
    AffiliateAccount.objects.filter(user=alice).update(commission_percent=None)
    settings.AFFILIATE_COMMISSION_PERCENT = D(3)
    order_finish(order_id=second.pk, status=Status.COMPLETED, actor=operator)
    assert (_commissions(first), _commissions(second)) == ([D("1.25000")], [D("0.30000")])


def test_nobody_earns_on_a_customer_nobody_referred(alice, charlie, operator):
    wallet_credit(user=charlie, amount=D(10))
    order = _order(charlie, "5")
    order_finish(order_id=order.pk, status=Status.COMPLETED, actor=operator)
    assert not LedgerEntry.objects.filter(kind=Kind.COMMISSION).exists()


def test_the_database_refuses_a_second_commission_of_an_order(alice, bob_referred, operator):
    order = _order(bob_referred, "10")
    order_finish(order_id=order.pk, status=Status.COMPLETED, actor=operator)
    earnings = _earnings(alice)
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.create(wallet=earnings, kind=Kind.COMMISSION, amount=D("0.5"), balance_after=D(1),
                                   order=order)  # fmt: skip


# --- polling -------------------------------------------------------------------------------------------------------


def _sent(user: User, service, count: int) -> list[Order]:
    orders = []
    for _ in range(count):
        order = order_place(user=user, service_id=service.pk, params={"link": "https://instagram.com/p/x",
                                                                      "quantity": "1000"})  # fmt: skip
        assert order_forward(order_id=order.pk) == "sent"
        orders.append(Order.objects.get(pk=order.pk))
    return orders


def test_polling_pays_each_order_once_however_often_it_polls(alice, bob_referred, services, simulator):
    simulator.force_outcome = "Partial"
    orders = _sent(bob_referred, services[1], 3)
    simulator.clock.advance(3600)
    for _ in range(3):
        poll_statuses(everything=True)
    for order in orders:
        order.refresh_from_db()
        refund = LedgerEntry.objects.get(order=order, kind=Kind.REFUND).amount
        expected = ((order.charge - refund) * 5 / 100).quantize(D("0.00001"), rounding="ROUND_FLOOR")
        assert order.status == Status.PARTIAL and _commissions(order) == [expected]
    assert _earnings(alice).balance == sum(_commissions(order)[0] for order in orders)


def _chunk_queries(provider, orders: list[Order]) -> int:
    now = timezone.now()
    claimed = _claim(provider, after_pk=0, everything=True, cycle_start=now, now=now)
    done = OrderStatus(state=OrderState.COMPLETED, raw_status="Completed", remains=0)
    answers: dict[int, OrderStatus | ItemError] = {upstream_id: done for _, upstream_id in claimed if upstream_id}
    with CaptureQueriesContext(connection) as queries:
        _apply([pk for pk, _ in claimed], answers, now)
    assert all(_commissions(order) for order in orders)
    return len([q for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]])


def test_a_polled_chunk_pays_its_commissions_in_the_same_few_queries_however_many(alice, charlie):
    service = ServiceFactory.create()
    referred = [UserFactory.create(username=f"friend{n}") for n in range(30)]
    for n, user in enumerate(referred):
        _refer(alice if n % 2 else charlie, user)
        wallet_credit(user=user, amount=D(10))
    few = [_order(user, "2", service=service, sent=True) for user in referred[:2]]
    few_queries = _chunk_queries(service.provider, few)
    many = [_order(user, "2", service=service, sent=True) for user in referred for _ in range(3)]
    assert _chunk_queries(service.provider, many) == few_queries
    assert _earnings(alice).balance + _earnings(charlie).balance == D("0.1") * 92


@pytest.mark.django_db(transaction=True)
def test_commission_is_paid_once_when_pollers_and_operators_race(services, simulator):
    alice, bob = UserFactory.create(username="alice"), UserFactory.create(username="bob")
    operator = UserFactory.create(username="olivia", is_staff=True, is_superuser=True)
    _refer(alice, bob)
    wallet_credit(user=bob, amount=D(1000))
    simulator.force_outcome = "Completed"
    orders = _sent(bob, services[3], 60)
    simulator.clock.advance(3600)
    simulator.faults.latency = 0.02

    def finish_all(backwards: bool) -> None:
        for order in reversed(orders) if backwards else orders:
            with contextlib.suppress(OrderError):  # final already: a poller or the other operator closed it
                order_finish(order_id=order.pk, status=Status.COMPLETED, actor=operator)

    racers = iter([lambda: poll_statuses(everything=True), lambda: poll_statuses(everything=True),
                   lambda: finish_all(False), lambda: finish_all(True)])  # fmt: skip
    lock = threading.Lock()

    def race() -> object:
        with lock:
            racer = next(racers)
        return racer()

    results = run_together(race, 4)
    assert not [r for r in results if isinstance(r, BaseException)], results
    # No poller's chunk failed on the database's refusal of a second commission: each skipped what was paid.
    assert [r.failures for r in results if isinstance(r, PollReport)] == [[], []]
    poll_statuses(everything=True)
    per_order = {order.pk: _commissions(order) for order in orders}
    assert all(len(paid) == 1 for paid in per_order.values()), per_order
    assert all(Order.objects.get(pk=order.pk).status == Status.COMPLETED for order in orders)
    assert (
        _earnings(alice).balance
        == sum(paid[0] for paid in per_order.values())
        == sum((order.charge * 5 / 100).quantize(D("0.00001"), rounding="ROUND_FLOOR") for order in orders)
    )
    assert list(ledger_mismatches()) == []


# --- later refunds -------------------------------------------------------------------------------------------------


def test_a_later_refund_gives_money_back_and_takes_back_its_share_of_the_commission(alice, bob_referred, operator):
    order = _order(bob_referred, "10")
    order_finish(order_id=order.pk, status=Status.COMPLETED, actor=operator)
    refund = order_refund_later(order_id=order.pk, amount=D(4), actor=operator, note="Drop after delivery")
    assert (refund.kind, refund.amount, refund.actor) == (Kind.LATER_REFUND, D(4), operator)
    assert Wallet.objects.get(user=bob_referred).balance == D(94)
    reversal = LedgerEntry.objects.get(kind=Kind.COMMISSION_REVERSAL)
    # The commission of 0.50 loses 4/10 of itself, as its own entry caused by the refund.
    assert (reversal.amount, reversal.order, reversal.cause) == (D("-0.20000"), order, refund)
    assert _earnings(alice).balance == D("0.30000")
    audit = AuditEntry.objects.get(action="order.refund_later")
    assert audit.after["refund"] == "4.00000" and audit.note == "Drop after delivery"


def test_later_refunds_never_take_back_more_than_the_commission(alice, bob_referred, operator):
    order = _order(bob_referred, "1.23457")
    order_finish(order_id=order.pk, status=Status.COMPLETED, actor=operator)  # commission 0.06172
    order_refund_later(order_id=order.pk, amount=D("0.5"), actor=operator, note="part")
    order_refund_later(order_id=order.pk, amount=None, actor=operator, note="the rest")
    reversals = LedgerEntry.objects.filter(kind=Kind.COMMISSION_REVERSAL).order_by("pk")
    # 0.06172 × 0.5 / 1.23457 = 0.024996…, rounded up; the rest is what is left of the commission.
    assert [r.amount for r in reversals] == [D("-0.02500"), D("-0.03672")]
    assert _earnings(alice).balance == 0


def test_a_later_refund_never_adds_up_to_more_than_the_charge(alice, bob_referred, operator):
    order = _order(bob_referred, "3.00000", quantity=1000)
    order_finish(order_id=order.pk, status=Status.PARTIAL, remains=250, actor=operator)  # 0.75 back already
    with pytest.raises(OrderError, match=r"At most 2\.25 USD"):
        order_refund_later(order_id=order.pk, amount=D("2.25001"), actor=operator, note="too much")
    order_refund_later(order_id=order.pk, amount=D("2.25"), actor=operator, note="all of it")
    with pytest.raises(OrderError, match="refunded already"):
        order_refund_later(order_id=order.pk, amount=None, actor=operator, note="again")
    assert Wallet.objects.get(user=bob_referred).balance == D(100)
    assert _earnings(alice).balance == 0


@pytest.mark.parametrize(("status", "problem"), [(Status.CANCELED, "is Canceled"), (Status.PENDING, "is Pending")])
def test_only_a_completed_or_partial_order_is_refunded_later(bob_referred, operator, status, problem):
    order = _order(bob_referred, "3")
    if status == Status.CANCELED:
        order_finish(order_id=order.pk, status=status, actor=operator)
    with pytest.raises(OrderError, match=problem):
        order_refund_later(order_id=order.pk, amount=D(1), actor=operator, note="x")
    with pytest.raises(OrderError, match="Give the reason"):
        order_refund_later(order_id=order.pk, amount=D(1), actor=operator, note="  ")
    assert not LedgerEntry.objects.filter(kind=Kind.LATER_REFUND).exists()


@pytest.mark.django_db(transaction=True)
def test_racing_later_refunds_never_give_back_more_than_the_charge():
    bob = UserFactory.create(username="bob")
    operator = UserFactory.create(username="olivia", is_staff=True, is_superuser=True)
    wallet_credit(user=bob, amount=D(10))
    order = _order(bob, "3")
    order_finish(order_id=order.pk, status=Status.COMPLETED, actor=operator)
    results = run_together(
        lambda: order_refund_later(order_id=order.pk, amount=D("1.75"), actor=operator, note="complaint"), 4
    )
    assert len([r for r in results if isinstance(r, LedgerEntry)]) == 1
    assert all(isinstance(r, OrderError) for r in results if not isinstance(r, LedgerEntry))
    assert Wallet.objects.get(user=bob).balance == D("8.75000")


def test_a_reversal_bigger_than_the_balance_takes_what_is_there_and_the_rest_is_owed(alice, bob_referred, operator):
    first = _order(bob_referred, "10")
    order_finish(order_id=first.pk, status=Status.COMPLETED, actor=operator)  # 0.50
    # Alice had 0.30 of it paid out.
    affiliate_payout(account_id=AffiliateAccount.objects.get(user=alice).pk, amount=D("0.3"), actor=operator,
                     note="bank transfer")  # fmt: skip
    order_refund_later(order_id=first.pk, amount=None, actor=operator, note="never delivered after all")
    earnings = _earnings(alice)
    assert (earnings.balance, earnings.debt) == (D(0), D("0.30000"))
    assert LedgerEntry.objects.get(kind=Kind.COMMISSION_REVERSAL).amount == D("-0.20000")
    with pytest.raises(AffiliateRefused, match=r"you owe 0\.30 USD"):
        affiliate_transfer(user=alice)

    # The next commission pays the debt back first, as an entry of its own.
    second = _order(bob_referred, "20")
    order_finish(order_id=second.pk, status=Status.COMPLETED, actor=operator)  # 1.00
    repaid = LedgerEntry.objects.get(kind=Kind.DEBT_REPAYMENT)
    assert (repaid.amount, repaid.cause.kind, repaid.cause.order) == (D("-0.30000"), Kind.COMMISSION, second)
    earnings.refresh_from_db()
    assert (earnings.balance, earnings.debt) == (D("0.70000"), D(0))
    assert affiliate_transfer(user=alice).amount == D("0.70000")


def test_an_empty_affiliate_wallet_owes_the_whole_reversal(alice, bob_referred, operator):
    order = _order(bob_referred, "10")
    order_finish(order_id=order.pk, status=Status.COMPLETED, actor=operator)
    affiliate_transfer(user=alice)
    order_refund_later(order_id=order.pk, amount=D(5), actor=operator, note="half")
    earnings = _earnings(alice)
    assert (earnings.balance, earnings.debt) == (D(0), D("0.25000"))
    assert not LedgerEntry.objects.filter(kind=Kind.COMMISSION_REVERSAL).exists()
    call_command("check_ledger")  # the affiliate wallet, too, equals its entries


def _owing(alice: User, bob: User, operator: User) -> LedgerEntry:
    """The reviewer's case: a commission of 1.00 moved to the main balance, then its order refunded in full."""
    order = _order(bob, "20")
    order_finish(order_id=order.pk, status=Status.COMPLETED, actor=operator)  # 1.00
    affiliate_transfer(user=alice)
    return order_refund_later(order_id=order.pk, amount=None, actor=operator, note="never delivered after all")


def test_a_reversal_nothing_could_be_taken_of_is_recorded_owed_alerted_and_repaid(alice, bob_referred, operator):
    refund = _owing(alice, bob_referred, operator)
    earnings = _earnings(alice)
    reversal = CommissionReversal.objects.get()
    assert (reversal.refund, reversal.wallet, reversal.due, reversal.taken, reversal.owed, reversal.entry) == (
        refund, earnings, D(1), D(0), D(1), None
    )  # fmt: skip
    assert earnings.debt == D(1)
    call_command("check_ledger")
    alert = Alert.objects.get(kind=Alert.Kind.AFFILIATE_DEBT)
    assert "alice owes 1.00000" in alert.subject and "future commissions pay it back first" in alert.body
    assert alert.url.endswith(f"/billing/commissionreversal/{reversal.pk}/change/")
    # One reversal per later refund, even of nothing taken.
    with pytest.raises(IntegrityError), transaction.atomic():
        CommissionReversal.objects.create(refund=refund, wallet=earnings, due=D(1), taken=D(0), owed=D(1))

    second = _order(bob_referred, "40")
    order_finish(order_id=second.pk, status=Status.COMPLETED, actor=operator)  # 2.00, 1.00 of it paid back
    earnings.refresh_from_db()
    assert (earnings.balance, earnings.debt) == (D(1), D(0))
    call_command("check_ledger")
    assert Alert.objects.filter(kind=Alert.Kind.AFFILIATE_DEBT).count() == 1


def test_a_reversal_partly_taken_records_its_entry(alice, bob_referred, operator):
    order = _order(bob_referred, "10")
    order_finish(order_id=order.pk, status=Status.COMPLETED, actor=operator)  # 0.50
    affiliate_payout(account_id=AffiliateAccount.objects.get(user=alice).pk, amount=D("0.3"), actor=operator,
                     note="bank transfer")  # fmt: skip
    order_refund_later(order_id=order.pk, amount=None, actor=operator, note="never delivered after all")
    reversal = CommissionReversal.objects.get()
    assert (reversal.due, reversal.taken, reversal.owed) == (D("0.5"), D("0.2"), D("0.3"))
    assert reversal.entry == LedgerEntry.objects.get(kind=Kind.COMMISSION_REVERSAL)
    assert "owes 0.30000" in Alert.objects.get(kind=Alert.Kind.AFFILIATE_DEBT).subject


def test_a_reversal_taken_in_full_raises_no_alert(alice, bob_referred, operator):
    order = _order(bob_referred, "10")
    order_finish(order_id=order.pk, status=Status.COMPLETED, actor=operator)
    order_refund_later(order_id=order.pk, amount=D(4), actor=operator, note="part")
    assert (CommissionReversal.objects.get().taken, CommissionReversal.objects.get().owed) == (D("0.2"), D(0))
    assert not Alert.objects.filter(kind=Alert.Kind.AFFILIATE_DEBT).exists()


@pytest.mark.ledger_mismatch_expected
def test_check_ledger_reports_an_affiliate_debt_that_its_reversals_do_not_explain(alice, bob_referred, charlie,
                                                                                  operator):  # fmt: skip
    _owing(alice, bob_referred, operator)
    Wallet.objects.filter(affiliate_account__user=alice).update(debt=D("0.5"))
    Wallet.objects.filter(pk=affiliate_account_open(user=charlie).wallet_id).update(debt=D(2))
    with CaptureQueriesContext(connection) as queries:
        found = ledger_mismatches()
    assert len(queries) == 1
    assert [(w.holder_name, w.debt, w.owed) for w in found] == [
        ("alice (affiliate)", D("0.5"), D(1)), ("charlie (affiliate)", D(2), D(0))
    ]  # fmt: skip
    err = StringIO()
    with pytest.raises(CommandError, match="2 wallet"):
        call_command("check_ledger", stderr=err)
    assert "alice (affiliate): debt 0.50000 but commission reversals less repayments leave 1.00000 USD owed" in (
        err.getvalue()
    )
    assert check_ledger() == 2
    subjects = set(Alert.objects.filter(kind=Alert.Kind.LEDGER_MISMATCH).values_list("subject", flat=True))
    assert "ledger mismatch: the wallet of alice (affiliate) owes 0.50000, its commission reversals leave 1.00000" in (
        subjects
    )


# --- moving earnings -----------------------------------------------------------------------------------------------


def _earn(alice: User, bob: User, operator: User, charge: str) -> None:
    order = _order(bob, charge)
    order_finish(order_id=order.pk, status=Status.COMPLETED, actor=operator)


def test_a_transfer_moves_all_earnings_to_the_main_balance_in_two_entries(alice, bob_referred, operator):
    _earn(alice, bob_referred, operator, "50")  # 2.50
    entry_in = affiliate_transfer(user=alice)
    entry_out = entry_in.cause
    assert (entry_in.kind, entry_in.amount, entry_in.wallet) == (Kind.TRANSFER_IN, D("2.50000"), alice.wallet)
    assert (entry_out.kind, entry_out.amount, entry_out.wallet) == (Kind.TRANSFER_OUT, D("-2.50000"), _earnings(alice))
    assert Wallet.objects.get(user=alice).balance == D("102.50000") and _earnings(alice).balance == 0
    with pytest.raises(AffiliateRefused, match="no affiliate earnings"):
        affiliate_transfer(user=alice)


def test_a_transfer_waits_for_the_minimum(alice, bob_referred, operator, settings):
    settings.AFFILIATE_TRANSFER_MINIMUM = D(1)
    _earn(alice, bob_referred, operator, "10")  # 0.50
    with pytest.raises(AffiliateRefused, match=r"once they reach 1\.00 USD"):
        affiliate_transfer(user=alice)
    assert (Wallet.objects.get(user=alice).balance, _earnings(alice).balance) == (D(100), D("0.50000"))


def test_the_database_refuses_a_transfer_into_the_main_balance_out_of_nothing(alice):
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.create(wallet=alice.wallet, kind=Kind.TRANSFER_IN, amount=D(5), balance_after=D(105))


@pytest.mark.django_db(transaction=True)
def test_a_transfer_submitted_twice_at_once_moves_the_money_once():
    alice, bob = UserFactory.create(username="alice"), UserFactory.create(username="bob")
    operator = UserFactory.create(username="olivia", is_staff=True, is_superuser=True)
    _refer(alice, bob)
    wallet_credit(user=bob, amount=D(100))
    _earn(alice, bob, operator, "60")  # 3.00

    def submit() -> int:
        client = Client()
        client.force_login(alice)
        return client.post(reverse("affiliate-transfer")).status_code

    assert run_together(submit, 4) == [302] * 4
    assert LedgerEntry.objects.filter(kind=Kind.TRANSFER_IN).count() == 1
    assert Wallet.objects.get(user=alice).balance == D("3.00000") and _earnings(alice).balance == 0
    assert list(ledger_mismatches()) == []


def test_a_payout_outside_the_panel_is_recorded_with_its_note_and_audited(alice, bob_referred, operator):
    _earn(alice, bob_referred, operator, "40")  # 2.00
    account = AffiliateAccount.objects.get(user=alice)
    with pytest.raises(AffiliateRefused, match="at most that"):
        affiliate_payout(account_id=account.pk, amount=D("2.00001"), actor=operator, note="wire")
    with pytest.raises(AffiliateRefused, match="note"):
        affiliate_payout(account_id=account.pk, amount=None, actor=operator, note=" ")
    payout = affiliate_payout(account_id=account.pk, amount=None, actor=operator, note="Wise transfer 2026-12-01")
    assert (payout.kind, payout.amount, payout.actor, payout.note) == (Kind.PAYOUT, D(-2), operator,
                                                                       "Wise transfer 2026-12-01")  # fmt: skip
    assert AuditEntry.objects.get(action="affiliate.payout").after["balance"] == "0.00000"
    assert _earnings(alice).balance == 0


# --- the admin -----------------------------------------------------------------------------------------------------


def _staff(role: str) -> Client:
    user = UserFactory.create(username=f"{role.lower()}-staff", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    client = Client()
    client.force_login(user)
    return second_factor_confirmed(client, User.objects.get(pk=user.pk))


def _act(client: Client, model: str, action: str, pk: int, **form: str) -> int:
    data = {"action": action, "_selected_action": [str(pk)], "apply": "1", "once": uuid4().hex, **form}
    return client.post(reverse(f"admin:{model}_changelist"), data).status_code


def test_finance_refunds_an_order_later_and_pays_affiliates_out_and_support_does_neither(alice, bob_referred, operator):
    order = _order(bob_referred, "20")
    order_finish(order_id=order.pk, status=Status.COMPLETED, actor=operator)  # 1.00 to alice
    account = AffiliateAccount.objects.get(user=alice)
    support = _staff("Support")
    assert _act(support, "orders_order", "refund_later", order.pk, amount="5", note="complaint") == 302
    assert _act(support, "billing_affiliateaccount", "pay_out", account.pk, note="wire") == 403
    assert not LedgerEntry.objects.filter(kind__in=[Kind.LATER_REFUND, Kind.PAYOUT]).exists()

    finance = _staff("Finance")
    assert _act(finance, "orders_order", "refund_later", order.pk, amount="5", note="complaint") == 302
    assert LedgerEntry.objects.get(kind=Kind.LATER_REFUND).amount == D(5)
    assert _act(finance, "billing_affiliateaccount", "pay_out", account.pk, note="wire") == 302
    assert LedgerEntry.objects.get(kind=Kind.PAYOUT).amount == D("-0.75000")
    page = finance.get(reverse("admin:billing_affiliateaccount_changelist")).content.decode()
    assert "alice" in page and account.code in page


def _confirmed(client: Client, model: str, action: str, pk: int, **form: str) -> dict[str, object]:
    """The action's confirmation form as its page hands it out (with the one-time token made for it), filled in."""
    selection = {"action": action, "_selected_action": [str(pk)]}
    page = client.post(reverse(f"admin:{model}_changelist"), selection)
    return {**selection, "apply": "1", "once": page.context["form"]["once"].value(), **form}


def test_a_later_refund_or_payout_form_sent_twice_moves_the_money_once(alice, bob_referred, operator):
    order = _order(bob_referred, "20")
    order_finish(order_id=order.pk, status=Status.COMPLETED, actor=operator)  # 1.00 to alice
    finance = _staff("Finance")
    orders = reverse("admin:orders_order_changelist")
    refund = _confirmed(finance, "orders_order", "refund_later", order.pk, amount="5", note="complaint")
    assert finance.post(orders, refund).status_code == 302
    again = finance.post(orders, refund, follow=True).content.decode()
    assert f"Order {order.pk}: This form was sent already; the first sending was recorded." in again
    assert list(LedgerEntry.objects.filter(kind=Kind.LATER_REFUND).values_list("amount", flat=True)) == [D(5)]
    assert (
        CommissionReversal.objects.count() == 1 and AuditEntry.objects.filter(action="order.refund_later").count() == 1
    )
    assert Wallet.objects.get(user=bob_referred).balance == D(85)

    accounts = reverse("admin:billing_affiliateaccount_changelist")
    account = AffiliateAccount.objects.get(user=alice)
    payout = _confirmed(finance, "billing_affiliateaccount", "pay_out", account.pk, amount="0.25", note="wire")
    assert finance.post(accounts, payout).status_code == 302
    again = finance.post(accounts, payout, follow=True).content.decode()
    assert "Affiliate account of alice: This form was sent already; the first sending was recorded." in again
    assert list(LedgerEntry.objects.filter(kind=Kind.PAYOUT).values_list("amount", flat=True)) == [D("-0.25")]
    assert _earnings(alice).balance == D("0.5") and AuditEntry.objects.filter(action="affiliate.payout").count() == 1
    assert ledger_mismatches() == []


def test_a_later_refund_or_payout_form_with_a_damaged_token_changes_nothing(alice, bob_referred, operator):
    order = _order(bob_referred, "20")
    order_finish(order_id=order.pk, status=Status.COMPLETED, actor=operator)
    finance = _staff("Finance")
    account = AffiliateAccount.objects.get(user=alice)
    for model, action, pk in [("orders_order", "refund_later", order.pk),
                              ("billing_affiliateaccount", "pay_out", account.pk)]:  # fmt: skip
        form = {**_confirmed(finance, model, action, pk, amount="0.5", note="x"), "once": "not-a-token"}
        response = finance.post(reverse(f"admin:{model}_changelist"), form)
        assert response.status_code == 200
        assert "This form is damaged: go back to the list and start the action again." in response.content.decode()
    assert not LedgerEntry.objects.filter(kind__in=[Kind.LATER_REFUND, Kind.PAYOUT]).exists()


def test_the_admin_shows_commission_reversals_read_only(alice, bob_referred, operator):
    _owing(alice, bob_referred, operator)
    finance = _staff("Finance")
    page = finance.get(reverse("admin:billing_commissionreversal_changelist")).content.decode()
    assert "alice" in page and "1.00000" in page
    reversal = CommissionReversal.objects.get()
    assert finance.get(reverse("admin:billing_commissionreversal_change", args=[reversal.pk])).status_code == 200
    assert finance.post(reverse("admin:billing_commissionreversal_delete", args=[reversal.pk])).status_code == 403
    assert finance.get(reverse("admin:billing_commissionreversal_add")).status_code == 403


def test_the_admin_sets_an_affiliates_own_percent_audited(alice, admin_client):
    account = affiliate_account_open(user=alice)
    url = reverse("admin:billing_affiliateaccount_change", args=[account.pk])
    assert admin_client.post(url, {"commission_percent": "101"}).status_code == 200  # the form's error
    assert admin_client.post(url, {"commission_percent": "7.5"}).status_code == 302
    account.refresh_from_db()
    assert account.commission_percent == D("7.5")
    assert AuditEntry.objects.get(action="affiliate.percent").after == {"commission_percent": "7.5"}


def test_the_admin_shows_referrals_read_only(alice, bob, admin_client):
    referral = _refer(alice, bob)
    url = reverse("admin:billing_referral_change", args=[referral.pk])
    assert admin_client.get(url).status_code == 200
    admin_client.post(url, {"referrer": str(bob.pk), "referred": str(alice.pk)})
    assert Referral.objects.get(pk=referral.pk).referrer == alice
    assert admin_client.get(reverse("admin:billing_referral_add")).status_code == 403


# --- referrals -----------------------------------------------------------------------------------------------------


def _visit(client: Client, referrer: User):
    return client.get(reverse("referral", args=[affiliate_account_open(user=referrer).code]))


def _sign_up(client: Client, **changes: str):
    return client.post(reverse("signup"), {**SIGNUP, **changes})


def test_a_visitor_who_signs_up_through_a_link_is_referred_once_and_for_good(alice, charlie):
    visitor = Client()
    answer = _visit(visitor, alice)
    assert answer.status_code == 302 and answer["Location"] == reverse("signup")
    assert answer.cookies[COOKIE]["max-age"] == 30 * 24 * 3600 and answer.cookies[COOKIE]["httponly"]
    signed_up = _sign_up(visitor)
    assert signed_up.status_code == 302 and signed_up.cookies[COOKIE].value == ""  # the cookie is spent
    newcomer = User.objects.get(username="newcomer")
    assert Referral.objects.get(referred=newcomer).referrer == alice

    # Nothing changes it later: no second referral, and the database refuses to edit or remove it.
    assert referral_record(referred=newcomer, code=affiliate_account_open(user=charlie).code) is None
    with pytest.raises(DatabaseError), transaction.atomic():
        Referral.objects.filter(referred=newcomer).update(referrer=charlie)
    with pytest.raises(DatabaseError), transaction.atomic():
        Referral.objects.filter(referred=newcomer).delete()
    assert Referral.objects.get(referred=newcomer).referrer == alice


def test_a_visit_counts_once_per_browser_and_an_unknown_code_refers_nobody(alice):
    first, second = Client(), Client()
    _visit(first, alice)
    _visit(first, alice)
    _visit(second, alice)
    assert ReferralVisits.objects.get(account__user=alice).count == 2
    stranger = Client()
    answer = stranger.get(reverse("referral", args=["nosuchcode"]))
    assert answer.status_code == 302 and COOKIE not in answer.cookies
    _sign_up(stranger)
    assert not Referral.objects.exists()


@pytest.mark.parametrize(("days_ago", "referred"), [(29, True), (31, False)])
def test_the_referral_cookie_lasts_its_days(alice, settings, days_ago, referred):
    settings.AFFILIATE_COOKIE_DAYS = 30
    visitor = Client()
    then = timezone.now() - timedelta(days=days_ago)
    with mock.patch("django.core.signing.time.time", return_value=then.timestamp()):
        _visit(visitor, alice)  # the browser kept the cookie: only its signed time tells its age
    _sign_up(visitor)
    assert Referral.objects.filter(referrer=alice).exists() is referred


def test_a_cookie_written_by_hand_refers_nobody(alice):
    visitor = Client()
    visitor.cookies[COOKIE] = affiliate_account_open(user=alice).code
    _sign_up(visitor)
    assert User.objects.filter(username="newcomer").exists() and not Referral.objects.exists()


def test_nobody_refers_themselves(alice):
    code = affiliate_account_open(user=alice).code
    assert referral_record(referred=alice, code=code) is None
    with pytest.raises(IntegrityError), transaction.atomic():
        Referral.objects.create(referrer=alice, referred=alice)


def test_the_owner_following_their_own_link_while_signed_in_sets_nothing(alice):
    owner = Client()
    owner.force_login(alice)
    answer = _visit(owner, alice)
    assert answer.status_code == 302 and answer["Location"] == reverse("affiliates")
    assert COOKIE not in answer.cookies and not ReferralVisits.objects.exists()
    # Signed in, they sign up nobody; signed out in the same browser, the new account is nobody's referral.
    assert _sign_up(owner).status_code == 302 and not User.objects.filter(username="newcomer").exists()
    owner.post(reverse("logout"))
    _sign_up(owner)
    assert User.objects.filter(username="newcomer").exists() and not Referral.objects.exists()


def test_signing_in_as_the_links_owner_forgets_the_link(alice):
    browser = Client()
    _visit(browser, alice)
    signed_in = browser.post(reverse("login"), {"username": "alice", "password": PASSWORD})
    assert signed_in.status_code == 302 and signed_in.cookies[COOKIE].value == ""
    browser.post(reverse("logout"))
    _sign_up(browser)
    assert not Referral.objects.exists()


def test_signing_in_as_someone_else_keeps_the_link(alice, bob):
    browser = Client()
    _visit(browser, alice)
    signed_in = browser.post(reverse("login"), {"username": "bob", "password": PASSWORD})
    assert signed_in.status_code == 302 and COOKIE not in signed_in.cookies
    browser.post(reverse("logout"))
    _sign_up(browser)
    assert Referral.objects.get(referred__username="newcomer").referrer == alice


# --- the affiliates page -------------------------------------------------------------------------------------------


@pytest.fixture
def history(alice, bob, charlie, operator) -> dict[str, object]:
    """Alice's link: two visits and bob's sign-up last month; a visit, charlie's sign-up and the orders this month."""
    now = timezone.now()
    last_month = (now.replace(day=1) - timedelta(days=1)).replace(hour=12)
    with _clock(last_month):
        _visit(Client(), alice)
        _visit(Client(), alice)
        _refer(alice, bob)
        wallet_credit(user=bob, amount=D(100))
        order = _order(bob, "10")
        order_finish(order_id=order.pk, status=Status.COMPLETED, actor=operator)  # 0.50
    _visit(Client(), alice)
    _refer(alice, charlie)
    wallet_credit(user=charlie, amount=D(20))
    order_refund_later(order_id=order.pk, amount=D(2), actor=operator, note="part")  # −0.10
    second = _order(charlie, "4")
    order_finish(order_id=second.pk, status=Status.COMPLETED, actor=operator)  # 0.20
    _order(charlie, "1")  # open: spent, earning nothing yet
    affiliate_transfer(user=alice)  # 0.60
    return {"now": now, "last_month": last_month}


def _page(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_page_shows_the_figures(alice, history, django_assert_max_num_queries):
    client = _page(alice)
    with django_assert_max_num_queries(12):  # session, user, balance, account, 5 figures; none per month or row
        response = client.get(reverse("affiliates"))
    assert response.status_code == 200
    figures = response.context["figures"]
    assert (figures.visits, figures.signups) == (3, 2)
    # Spent: bob 10 − 2 refunded later; charlie 4 + 1 (still open).
    assert (figures.spend, figures.earned, figures.moved, figures.paid_out) == (D(13), D("0.6"), D("0.6"), D(0))
    months = [(row.month.strftime("%Y-%m"), row.visits, row.signups, row.spend, row.earned) for row in figures.months]
    assert months == [
        (history["now"].strftime("%Y-%m"), 1, 1, D(3), D("0.1")),
        (history["last_month"].strftime("%Y-%m"), 2, 1, D(10), D("0.5")),
    ]
    html = response.content.decode()
    link = "http://testserver" + reverse("referral", args=[AffiliateAccount.objects.get(user=alice).code])
    assert f'id="referral-link">{link}</div>' in html
    assert '<dd data-figure="earned">0.60 USD</dd>' in html and '<dd data-figure="spend">13.00 USD</dd>' in html
    assert "Moved to your balance" in html and "<strong data-balance>100.60 USD</strong>" in html
    assert '<p class="total" data-affiliate-balance>0.00 USD</p>' in html


def test_the_page_of_another_customer_shows_none_of_it(alice, bob, history):
    response = _page(bob).get(reverse("affiliates"))
    html = response.content.decode()
    figures = response.context["figures"]
    assert (figures.visits, figures.signups, figures.spend, figures.earned, figures.months) == (0, 0, 0, 0, [])
    assert AffiliateAccount.objects.get(user=alice).code not in html
    assert _page(bob).post(reverse("affiliate-transfer")).status_code == 302
    assert Wallet.objects.get(user=alice).balance == D("100.60000")


def test_the_transfer_form_answers_on_the_page(alice, bob_referred, operator, settings):
    settings.AFFILIATE_TRANSFER_MINIMUM = D(1)
    client = _page(alice)
    _earn(alice, bob_referred, operator, "10")
    page = client.get(reverse("affiliates")).content.decode()
    assert 'aria-describedby="move-help" disabled' in page
    refused = client.post(reverse("affiliate-transfer"), follow=True).content.decode()
    assert "You can move your earnings once they reach 1.00 USD." in refused
    _earn(alice, bob_referred, operator, "20")
    moved = client.post(reverse("affiliate-transfer"), follow=True).content.decode()
    assert "1.50 USD moved to your balance." in moved and "<strong data-balance>101.50 USD</strong>" in moved
    history = client.get(reverse("funds")).content.decode()
    assert "From affiliate earnings" in history


def test_the_page_and_the_transfer_want_a_signed_in_customer_and_a_post_with_csrf(alice):
    assert Client().get(reverse("affiliates"))["Location"].startswith(reverse("login"))
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.get(reverse("affiliate-transfer")).status_code == 405
    assert client.post(reverse("affiliate-transfer")).status_code == 403


def test_it_opens_one_affiliate_account_however_often_asked(alice):
    first, second = affiliate_account_open(user=alice), affiliate_account_open(user=alice)
    assert first.pk == second.pk and len(first.code) == 10
    assert AffiliateAccount.objects.count() == 1 and Wallet.objects.filter(user__isnull=True).count() == 1


def test_each_customer_gets_a_code_of_their_own():
    codes = {affiliate_account_open(user=UserFactory.create()).code for _ in range(20)}
    assert len(codes) == 20 and all(len(code) == 10 and set(code) <= set(CODE_ALPHABET) for code in codes)
