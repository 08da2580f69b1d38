"""The order lifecycle: the transition tables name every state, and closing an order refunds it once."""

from decimal import Decimal

import pytest

from billing.models import LedgerEntry, Wallet
from orders.models import CancelRequest, Order, Refill
from orders.services.forwarding import _record_sent, order_reject
from orders.services.lifecycle import (
    CANCEL_MOVES,
    REFILL_MOVES,
    STATUS_MOVES,
    SUBMISSION_MOVES,
    move_check,
    order_close,
    order_move_status,
    refund_due,
    sources,
)
from orders.services.placement import order_place
from tests.concurrency import run_together

LINK = "https://instagram.com/p/lifecycle"
Status, Submission = Order.Status, Order.Submission


@pytest.mark.parametrize(
    ("moves", "states"),
    [
        (SUBMISSION_MOVES, Submission),
        (STATUS_MOVES, Status),
        (REFILL_MOVES, Refill.Status),
        (CANCEL_MOVES, CancelRequest.Status),
    ],
)
def test_each_table_lists_every_state_and_moves_only_to_its_states(moves, states):
    assert set(moves) == set(states)
    assert all(set(targets) <= set(states) for targets in moves.values())


def test_final_states_are_never_left():
    assert all(not STATUS_MOVES[status] for status in Order.FINAL)
    assert all(not REFILL_MOVES[status] for status in Refill.FINAL)
    assert not SUBMISSION_MOVES[Submission.SENT]
    # A rejected order only ever becomes UNKNOWN, when an earlier attempt turns out to have been placed.
    assert SUBMISSION_MOVES[Submission.REJECTED] == {Submission.UNKNOWN}
    assert sources(STATUS_MOVES, Status.CANCELED) == [Status.PENDING, Status.IN_PROGRESS, Status.PROCESSING]


def test_it_refuses_a_move_its_table_does_not_list():
    move_check(SUBMISSION_MOVES, Submission.SENDING, Submission.SENT)
    with pytest.raises(ValueError, match="no move from sent to queued"):
        move_check(SUBMISSION_MOVES, Submission.SENT, Submission.QUEUED)
    with pytest.raises(ValueError, match="no move from queued to sent"):
        move_check(SUBMISSION_MOVES, Submission.QUEUED, Submission.SENT)


@pytest.fixture
def order(alice, services):
    return order_place(user=alice, service_id=services[1].pk, params={"link": LINK, "quantity": "1000"})


def _balance(user) -> Decimal:
    return Wallet.objects.get(user=user).balance


@pytest.mark.django_db
def test_it_closes_an_order_once_and_refunds_what_its_status_gives_back(order, alice):
    assert order_close(order=order, status=Status.PARTIAL, remains=250, note="test")
    assert not order_close(order=order, status=Status.CANCELED, note="test")
    closed = Order.objects.get(pk=order.pk)
    assert (closed.status, closed.remains) == (Status.PARTIAL, 250) and closed.completed_at is not None
    refund = LedgerEntry.objects.get(order=order, kind=LedgerEntry.Kind.REFUND)
    assert refund.amount == refund_due(closed) == order.charge / 4
    assert _balance(alice) == Decimal(100) - order.charge + refund.amount


@pytest.mark.django_db
def test_it_refuses_to_close_to_an_open_status(order):
    with pytest.raises(ValueError, match="In progress is not a final status"):
        order_close(order=order, status=Status.IN_PROGRESS, note="test")
    assert Order.objects.get(pk=order.pk).status == Status.PENDING


@pytest.mark.django_db
def test_a_rejection_of_an_attempt_that_is_no_longer_sending_changes_nothing(order, alice):
    # The sweeper gave up on the attempt (UNKNOWN) before the provider's refusal arrived: an operator decides.
    Order.objects.filter(pk=order.pk).update(submission=Submission.UNKNOWN)
    order_reject(order=order, message="Incorrect link")
    assert Order.objects.get(pk=order.pk).status == Status.PENDING
    assert _balance(alice) == Decimal(100) - order.charge


@pytest.mark.django_db
def test_a_polled_status_moves_an_open_order_and_dates_its_end(order):
    from django.utils import timezone

    now = timezone.now()
    assert order_move_status(order, Status.IN_PROGRESS, now=now) and order.completed_at is None
    assert not order_move_status(order, Status.IN_PROGRESS, now=now)
    assert order_move_status(order, Status.COMPLETED, now=now) and order.completed_at == now
    assert not order_move_status(order, Status.CANCELED, now=now) and order.status == Status.COMPLETED


@pytest.mark.django_db(transaction=True)
def test_racing_closers_refund_an_order_once(alice, services):
    order = order_place(user=alice, service_id=services[1].pk, params={"link": LINK, "quantity": "1000"})

    def close() -> bool:
        return order_close(order=Order.objects.get(pk=order.pk), status=Status.CANCELED, note="race")

    results = run_together(close, 4)
    assert sorted(results, key=str) == [False, False, False, True]
    assert LedgerEntry.objects.filter(order=order, kind=LedgerEntry.Kind.REFUND).count() == 1
    assert _balance(alice) == Decimal(100)


@pytest.mark.django_db
def test_a_late_success_of_an_earlier_attempt_flags_a_rejected_order_for_operators(order, alice):
    from django.utils import timezone

    # Attempt 1 hung and was swept to UNKNOWN; an operator resent it; attempt 2 was refused for good.
    Order.objects.filter(pk=order.pk).update(submission=Submission.SENDING, attempts=2)
    order.attempts = 2
    order_reject(order=order, message="Incorrect link")
    assert Order.objects.get(pk=order.pk).submission == Submission.REJECTED
    # Then attempt 1's `add` answers with an upstream id after all.
    order.attempts = 1
    assert _record_sent(order, 4242, timezone.now()) == Submission.UNKNOWN
    flagged = Order.objects.get(pk=order.pk)
    assert flagged.submission == Submission.UNKNOWN and "Placed upstream as order 4242" in flagged.last_error
    assert (flagged.status, _balance(alice)) == (Status.CANCELED, Decimal(100))
