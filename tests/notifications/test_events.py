"""Notifications of orders and refills that ended: each event told exactly once, with the refund the ledger gave,
whoever ends it; a polled chunk of 100 in the same few queries as one, with one email task."""

import contextlib
import threading
import time
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from billing.models import LedgerEntry
from billing.services import wallet_credit
from notifications.models import Notification
from notifications.services import orders_ended_notify, refills_ended_notify
from orders.models import Order, Refill
from orders.services.followups import cancel_request, refill_request, refills_forward, refills_poll
from orders.services.forwarding import order_forward
from orders.services.operators import order_finish
from orders.services.placement import order_place
from orders.services.polling import poll_statuses
from orders.validation import OrderError
from tests.concurrency import run_together
from tests.factories import OrderFactory, RefillFactory, UserFactory
from tests.notifications.conftest import sent

pytestmark = pytest.mark.django_db


def _told(user) -> list[tuple[str, int, int | None, str, Decimal]]:
    rows = Notification.objects.filter(user=user).order_by("pk")
    return list(rows.values_list("kind", "order_id", "refill_id", "status", "refund"))


@pytest.mark.parametrize(
    ("outcome", "refund"),
    [("Completed", Decimal(0)), ("Partial", Decimal("0.54000")), ("Canceled", Decimal("1.35000"))],
)
def test_a_polled_order_that_ends_is_told_once_with_its_refund(alice, services, simulator, outcome, refund):
    simulator.force_outcome = outcome
    [order] = sent(alice, services[1])
    simulator.clock.advance(3600)
    poll_statuses(everything=True)
    poll_statuses(everything=True)
    assert _told(alice) == [("order_ended", order.pk, None, outcome, refund)]
    ledger = LedgerEntry.objects.filter(order=order, kind="refund").values_list("amount", flat=True)
    assert list(ledger) == ([refund] if refund else [])


def test_an_order_that_is_still_running_is_not_told(alice, services, simulator):
    sent(alice, services[1])
    simulator.clock.advance(30)
    poll_statuses(everything=True)
    assert Order.objects.get(user=alice).status == "In progress"
    assert _told(alice) == []


def test_a_canceled_unsent_order_and_an_operators_finish_are_told_with_their_refunds(alice, services):
    unsent = order_place(user=alice, service_id=services[1].pk, params={"link": "https://x.com/a", "quantity": "500"})
    cancel_request(user=alice, order_id=unsent.pk)
    [partial] = sent(alice, services[1])
    operator = UserFactory.create(username="olivia", is_staff=True)
    order_finish(order_id=partial.pk, status="Partial", remains=250, actor=operator)
    assert _told(alice) == [
        ("order_ended", unsent.pk, None, "Canceled", Decimal("0.67500")),
        ("order_ended", partial.pk, None, "Partial", Decimal("0.33750")),
    ]


def test_an_order_refused_upstream_is_told_canceled_with_its_refund(alice, services, simulator):
    order = order_place(user=alice, service_id=services[1].pk, params={"link": "https://x.com/a", "quantity": "100"})
    simulator.script_reply('{"error": "Incorrect link"}')
    assert order_forward(order_id=order.pk) == "rejected"
    assert _told(alice) == [("order_ended", order.pk, None, "Canceled", order.charge)]


def test_a_refill_that_ends_is_told_once(alice, services, simulator):
    simulator.force_outcome = "Completed"
    [order] = sent(alice, services[1])
    simulator.clock.advance(3600)
    poll_statuses(everything=True)
    refill = refill_request(user=alice, order_id=order.pk)
    refills_forward()
    simulator.clock.advance(20)
    refills_poll(everything=True)
    assert Refill.objects.get(pk=refill.pk).status == "In progress"
    assert [kind for kind, *_ in _told(alice)] == ["order_ended"]
    simulator.clock.advance(3600)
    refills_poll(everything=True)
    refills_poll(everything=True)
    assert _told(alice)[1:] == [("refill_ended", order.pk, refill.pk, "Completed", Decimal(0))]


def test_a_refill_the_provider_refuses_is_told_rejected(alice, provider):
    # An order the provider does not know: it refuses the refill, which ends Rejected at once.
    refill = RefillFactory.create(order=OrderFactory.create(user=alice, completed=True, service__provider=provider))
    assert refills_forward().refused == 1
    assert _told(alice) == [("refill_ended", refill.order_id, refill.pk, "Rejected", Decimal(0))]


def test_telling_again_changes_nothing(alice):
    order = OrderFactory.create(user=alice, completed=True)
    refill = RefillFactory.create(order=order, status=Refill.Status.ERROR)
    open_order = OrderFactory.create(user=alice, sent=True)
    assert len(orders_ended_notify(orders=[order, open_order])) == 1
    assert len(refills_ended_notify(refill_ids=[refill.pk])) == 1
    assert orders_ended_notify(orders=[order]) == [] and refills_ended_notify(refill_ids=[refill.pk]) == []
    assert _told(alice) == [
        ("order_ended", order.pk, None, "Completed", Decimal(0)),
        ("refill_ended", order.pk, refill.pk, "Error", Decimal(0)),
    ]


def _cycle_statements() -> int:
    with CaptureQueriesContext(connection) as queries:
        report = poll_statuses(everything=True)
    assert report.polled == 100 and report.upstream_calls == 1
    return len([query for query in queries.captured_queries if "SAVEPOINT" not in query["sql"]])


def test_a_chunk_of_100_ending_orders_is_told_in_as_many_queries_as_one_with_one_email_task(
    alice, bob, services, simulator, eager, tasks_run, django_capture_on_commit_callbacks, mailoutbox
):
    wallet_credit(user=alice, amount=Decimal(1000))
    wallet_credit(user=bob, amount=Decimal(10))
    simulator.force_outcome = "Partial"
    first = sent(alice, services[1], count=99) + sent(bob, services[1], origin=Order.Origin.API)
    simulator.clock.advance(3600)
    with django_capture_on_commit_callbacks(execute=True):
        all_ended = _cycle_statements()
    assert Notification.objects.filter(order__in=first, kind="order_ended", status="Partial").count() == 100
    refunds = dict(LedgerEntry.objects.filter(kind="refund", order__in=first).values_list("order_id", "amount"))
    assert len(refunds) == 100 and dict(Notification.objects.values_list("order_id", "refund")) == refunds
    emails = [args for name, args in tasks_run if name == "notifications.tasks.email_notifications"]
    assert len(emails) == 1 and sorted(emails[0][0]) == sorted(Notification.objects.values_list("pk", flat=True))
    assert len(mailoutbox) == 99  # alice's web orders; bob's API order is in his list only

    # One order that ends upstream, then 99 that have only begun: a chunk where a single order ends.
    [ending] = sent(alice, services[1])
    simulator.clock.advance(3600)
    sent(alice, services[1], count=99)
    with django_capture_on_commit_callbacks(execute=True):
        one_ended = _cycle_statements()
    assert Notification.objects.filter(order__in=Order.objects.exclude(pk__in=[o.pk for o in first])).count() == 1
    assert Notification.objects.filter(order=ending).exists()
    assert one_ended == all_ended
    assert len([name for name, _ in tasks_run if name == "notifications.tasks.email_notifications"]) == 2


@pytest.mark.parametrize("count", [1, 100])
def test_telling_takes_two_queries_however_many_ended(alice, count):
    orders = OrderFactory.create_batch(count, user=alice, completed=True)
    refills = [RefillFactory.create(order=order, status=Refill.Status.COMPLETED) for order in orders]
    with CaptureQueriesContext(connection) as told_orders:
        assert len(orders_ended_notify(orders=orders)) == count
    with CaptureQueriesContext(connection) as told_refills:
        assert len(refills_ended_notify(refill_ids=[refill.pk for refill in refills])) == count
    assert (len(told_orders), len(told_refills)) == (2, 2)
    with CaptureQueriesContext(connection) as nothing:
        assert orders_ended_notify(orders=[]) == [] and refills_ended_notify(refill_ids=[]) == []
    assert len(nothing) == 0


@pytest.mark.django_db(transaction=True)
def test_a_poller_and_an_operator_racing_tell_the_order_once(alice, services, simulator):
    simulator.force_outcome = "Completed"
    orders = sent(alice, services[1], count=20)
    simulator.clock.advance(3600)
    operator = UserFactory.create(username="olivia", is_staff=True)
    roles = iter(["poller", "poller", "operator", "operator"])
    lock = threading.Lock()

    def act() -> None:
        with lock:
            role = next(roles)
        if role == "poller":
            poll_statuses(everything=True)
            return
        for order in orders:
            try:
                order_finish(order_id=order.pk, status="Canceled", actor=operator)
            except OrderError:
                continue  # already final: the other side won this one

    results = run_together(act, 4)
    assert not [r for r in results if isinstance(r, BaseException)], results
    assert Notification.objects.count() == 20
    for order in Order.objects.filter(pk__in=[o.pk for o in orders]):
        notification = Notification.objects.get(order=order)
        refund = LedgerEntry.objects.filter(order=order, kind="refund").values_list("amount", flat=True).first()
        assert (notification.status, notification.refund) == (order.status, refund or Decimal(0))


@pytest.mark.django_db(transaction=True)
def test_concurrent_tellers_of_one_event_make_one_notification(alice):
    order = OrderFactory.create(user=alice, completed=True)
    refill = RefillFactory.create(order=order, status=Refill.Status.COMPLETED)
    inserted = threading.Barrier(2, timeout=0.5)

    def tell() -> list[int]:
        with transaction.atomic():
            created = orders_ended_notify(orders=[order]) + refills_ended_notify(refill_ids=[refill.pk])
            with contextlib.suppress(threading.BrokenBarrierError):
                inserted.wait()  # both inside their transaction at once, unless one waits on the other's insert
            time.sleep(0.2)
            return created

    results = run_together(tell, 2)
    assert sorted(len(r) for r in results if isinstance(r, list)) == [0, 2], results
    assert Notification.objects.count() == 2
