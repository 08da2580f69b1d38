"""Batched status polling against the simulator: chunks, claims, refunds exactly once."""

from datetime import timedelta
from decimal import ROUND_FLOOR, Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from billing.models import LedgerEntry, Wallet
from billing.services import ledger_mismatches, wallet_credit
from orders.models import Order
from orders.services.forwarding import order_forward
from orders.services.operators import order_finish
from orders.services.placement import order_place
from orders.services.polling import next_poll_delay, poll_statuses
from tests.concurrency import run_together
from upstream.protocol import OrderState, OrderStatus

pytestmark = pytest.mark.django_db

LINK = "https://instagram.com/p/abc"


def _place_and_send(user, service, count: int, quantity: str = "1000") -> list[Order]:
    orders = []
    for _ in range(count):
        order = order_place(user=user, service_id=service.pk, params={"link": LINK, "quantity": quantity})
        assert order_forward(order_id=order.pk) == "sent"
        orders.append(order)
    return orders


def _finish_upstream(simulator) -> None:
    simulator.clock.advance(3600)


@pytest.mark.parametrize(
    ("outcome", "expected_status", "refund"),
    [("Completed", "Completed", None), ("Canceled", "Canceled", "1.35000"), ("Partial", "Partial", "0.54000")],
)
def test_it_applies_final_statuses_and_refunds_what_was_not_delivered(
    alice, services, simulator, outcome, expected_status, refund
):
    simulator.force_outcome = outcome
    (order,) = _place_and_send(alice, services[1], 1)
    _finish_upstream(simulator)
    report = poll_statuses()
    polled = Order.objects.get(pk=order.pk)
    assert polled.status == expected_status and polled.completed_at is not None
    upstream = simulator.orders[polled.upstream_id]
    assert polled.start_count is not None and polled.remains == upstream.quantity - upstream.delivered_at(
        simulator.clock.now(), simulator.timing
    )
    refunds = LedgerEntry.objects.filter(order=order, kind="refund")
    if refund is None:
        assert not refunds.exists()
    else:
        expected = (polled.charge * polled.remains / polled.quantity).quantize(Decimal("0.00001"), ROUND_FLOOR)
        assert refunds.get().amount == expected == Decimal(refund)
        assert report.refunds == 1
    assert list(ledger_mismatches()) == []


def test_it_follows_an_order_through_its_states(alice, services, simulator):
    (order,) = _place_and_send(alice, services[1], 1)
    simulator.force_outcome = None
    poll_statuses(everything=True)
    assert Order.objects.get(pk=order.pk).status == "Pending"
    simulator.clock.advance(30)
    poll_statuses(everything=True)
    in_progress = Order.objects.get(pk=order.pk)
    assert in_progress.status == "In progress" and 0 < in_progress.remains < 1000


def test_it_refunds_once_however_often_it_is_polled(alice, services, simulator):
    simulator.force_outcome = "Canceled"
    (order,) = _place_and_send(alice, services[1], 1)
    _finish_upstream(simulator)
    for _ in range(3):
        poll_statuses(everything=True)
    Order.objects.filter(pk=order.pk).update(status="In progress")  # as if a stale poll had undone it
    poll_statuses(everything=True)
    assert LedgerEntry.objects.filter(order=order, kind="refund").count() == 1
    assert Wallet.objects.get(user=alice).balance == Decimal(100)


def test_it_polls_in_chunks_of_at_most_100_with_constant_queries_per_chunk(alice, services, simulator):
    wallet_credit(user=alice, amount=Decimal(1000))
    _place_and_send(alice, services[3], 250, quantity="100")
    simulator.calls.clear()
    with CaptureQueriesContext(connection) as queries:
        report = poll_statuses(everything=True)
    sizes = [len(call.params["orders"].split(",")) for call in simulator.calls_for("status")]
    assert sizes == [100, 100, 50] and report.polled == 250 and report.upstream_calls == 3
    statements = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    # Per chunk: claim (select + update), lock and read, two bulk writes; plus the provider lookups. None per order.
    assert len(statements) <= 4 * 5 + 3, statements


def test_it_only_polls_due_orders_and_backs_off_as_orders_age(alice, services, simulator):
    (order,) = _place_and_send(alice, services[1], 1)
    assert poll_statuses().polled == 1
    assert poll_statuses().polled == 0
    polled = Order.objects.get(pk=order.pk)
    assert polled.next_poll_at - timezone.now() > timedelta(seconds=50)
    assert next_poll_delay(timedelta(minutes=5)) == timedelta(minutes=1)
    assert next_poll_delay(timedelta(hours=2)) == timedelta(minutes=12)
    assert next_poll_delay(timedelta(days=3)) == timedelta(hours=1)


def test_it_applies_the_rest_of_a_batch_when_some_ids_are_unknown(alice, services, simulator, settings):
    simulator.force_outcome = "Completed"
    known, lost = _place_and_send(alice, services[1], 2)
    del simulator.orders[Order.objects.get(pk=lost.pk).upstream_id]
    _finish_upstream(simulator)
    for _ in range(settings.POLL_MISSES_ALERT):
        report = poll_statuses(everything=True)
    assert Order.objects.get(pk=known.pk).status == "Completed"
    missing = Order.objects.get(pk=lost.pk)
    assert missing.status == "Pending" and missing.missed_polls == settings.POLL_MISSES_ALERT
    assert "does not know upstream order" in missing.last_error and report.unknown_ids == 1


@pytest.mark.parametrize("reply", ["<html>502 Bad Gateway</html>", "{garbage", '{"error": "Incorrect request"}'])
def test_it_survives_an_unusable_reply_and_continues_next_cycle(alice, services, simulator, reply):
    simulator.force_outcome = "Completed"
    (order,) = _place_and_send(alice, services[1], 1)
    _finish_upstream(simulator)
    simulator.script_reply(reply, content_type="text/html")
    report = poll_statuses(everything=True)
    assert report.failures and Order.objects.get(pk=order.pk).status == "Pending"
    assert Order.objects.get(pk=order.pk).poll_claimed_at is None
    poll_statuses(everything=True)
    assert Order.objects.get(pk=order.pk).status == "Completed"


def test_it_surfaces_an_upstream_failure_status_without_changing_the_order(alice, services, simulator):
    (order,) = _place_and_send(alice, services[1], 1)
    upstream_id = Order.objects.get(pk=order.pk).upstream_id
    simulator.script_reply(f'{{"{upstream_id}": {{"status": "Fail", "remains": "", "charge": ""}}}}')
    poll_statuses(everything=True)
    failed = Order.objects.get(pk=order.pk)
    assert failed.status == "Pending" and failed.last_error == "The provider reports a failure: Fail"


@pytest.mark.django_db(transaction=True)
def test_overlapping_pollers_refund_each_order_once(services, simulator):
    from tests.factories import UserFactory

    dave = UserFactory.create(username="dave")
    wallet_credit(user=dave, amount=Decimal(1000))
    simulator.force_outcome = "Canceled"
    orders = _place_and_send(dave, services[3], 120, quantity="1000")
    _finish_upstream(simulator)
    simulator.faults.latency = 0.05
    reports = run_together(lambda: poll_statuses(everything=True), 4)
    assert sum(report.refunds for report in reports) == 120
    assert LedgerEntry.objects.filter(kind="refund").count() == 120
    assert Wallet.objects.get(user=dave).balance == Decimal(1000)
    assert all(order.status == "Canceled" for order in Order.objects.filter(pk__in=[o.pk for o in orders]))
    assert list(ledger_mismatches()) == []


def test_it_leaves_alone_an_order_an_operator_finished_while_it_was_polled(alice, services, simulator, admin_user):
    from orders.services.polling import _apply, _claim

    simulator.force_outcome = "Canceled"
    (order,) = _place_and_send(alice, services[1], 1)
    _finish_upstream(simulator)
    now = timezone.now()
    claimed = _claim(order.provider, after_pk=0, everything=True, cycle_start=now, now=now)
    # The operator, while the status call is in flight:
    order_finish(order_id=order.pk, status="Completed", actor=admin_user)
    upstream_id = claimed[0][1]
    _apply([order.pk], {upstream_id: OrderStatus(state=OrderState.CANCELED, raw_status="Canceled", remains=1000)}, now)
    assert Order.objects.get(pk=order.pk).status == "Completed"
    assert not LedgerEntry.objects.filter(order=order, kind="refund").exists()


@pytest.mark.parametrize(
    ("upstream_id", "params", "reply_remains"),
    [(1, {"link": LINK, "quantity": "1000"}, ""), (5, {"link": LINK}, "1")],
)
def test_it_keeps_a_partial_open_until_its_refund_can_be_computed(
    alice, services, simulator, upstream_id, params, reply_remains, admin_user
):
    order = order_place(user=alice, service_id=services[upstream_id].pk, params=params)
    order_forward(order_id=order.pk)
    sent = Order.objects.get(pk=order.pk)
    simulator.script_reply(f'{{"{sent.upstream_id}": {{"status": "Partial", "remains": "{reply_remains}"}}}}')
    poll_statuses(everything=True)
    still = Order.objects.get(pk=order.pk)
    assert still.status == "Pending" and "Partial without a usable remains count" in still.last_error
    assert not LedgerEntry.objects.filter(order=order, kind="refund").exists()
    order_finish(order_id=order.pk, status="Partial", remains=still.quantity, actor=admin_user)
    assert LedgerEntry.objects.get(order=order, kind="refund").amount == order.charge


def test_it_drops_absurd_numbers_instead_of_failing_the_chunk(alice, services, simulator):
    first, second = _place_and_send(alice, services[1], 2)
    ids = [Order.objects.get(pk=o.pk).upstream_id for o in (first, second)]
    simulator.script_reply(
        f'{{"{ids[0]}": {{"status": "In progress", "start_count": "1e25", "charge": "1e20", "remains": "5"}},'
        f' "{ids[1]}": {{"status": "Completed", "start_count": "10", "remains": "0"}}}}'
    )
    report = poll_statuses(everything=True)
    assert report.failures == []
    assert Order.objects.get(pk=first.pk).status == "In progress" and Order.objects.get(pk=first.pk).start_count is None
    assert Order.objects.get(pk=second.pk).status == "Completed"


def test_a_sent_order_without_an_upstream_id_does_not_stop_the_cycle(alice, services, simulator):
    orders = _place_and_send(alice, services[1], 3)
    Order.objects.filter(pk=orders[0].pk).update(upstream_id=None)
    report = poll_statuses(everything=True)
    assert report.polled == 2
    assert "without an upstream id" in Order.objects.get(pk=orders[0].pk).last_error
