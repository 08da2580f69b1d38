"""Forwarding orders upstream exactly once, against the simulator over real HTTP."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from billing.models import LedgerEntry, Wallet
from billing.services import ledger_mismatches
from orders.models import Order
from orders.selectors import forward_due
from orders.services.forwarding import order_forward, orders_sweep
from orders.services.placement import order_place
from tests.concurrency import run_together

pytestmark = pytest.mark.django_db

LINK = "https://instagram.com/p/abc"


@pytest.fixture
def order(alice, services):
    return order_place(user=alice, service_id=services[1].pk, params={"link": LINK, "quantity": "1000"})


def _fresh(order: Order) -> Order:
    return Order.objects.get(pk=order.pk)


def test_it_sends_an_order_once_and_records_the_upstream_id(order, simulator):
    assert order_forward(order_id=order.pk) == "sent"
    assert order_forward(order_id=order.pk) == ""  # a redelivered message does nothing
    sent = _fresh(order)
    (call,) = simulator.calls_for("add")
    assert call.params == {"key": call.params["key"], "action": "add", "service": "1", "link": LINK, "quantity": "1000"}
    assert sent.submission == "sent" and sent.upstream_id in simulator.orders and sent.next_poll_at is not None


def test_it_sends_type_specific_fields_and_per_run_quantity(alice, services, simulator):
    drip = order_place(
        user=alice, service_id=services[2].pk, params={"link": LINK, "quantity": "100", "runs": "3", "interval": "15"}
    )
    comments = order_place(user=alice, service_id=services[6].pk, params={"link": LINK, "comments": "a\nb\nc\nd\ne"})
    order_forward(order_id=drip.pk)
    order_forward(order_id=comments.pk)
    drip_call, comments_call = simulator.calls_for("add")
    assert (drip_call.params["quantity"], drip_call.params["runs"], drip_call.params["interval"]) == ("100", "3", "15")
    assert comments_call.params["comments"] == "a\nb\nc\nd\ne" and "quantity" not in comments_call.params
    assert _fresh(drip).submission == _fresh(comments).submission == "sent"


def test_it_queues_again_with_backoff_when_nothing_was_sent(order, simulator):
    simulator.stop()
    assert order_forward(order_id=order.pk) == "queued"
    queued = _fresh(order)
    assert queued.next_attempt_at > timezone.now() and "cannot connect to the provider" in queued.last_error
    assert forward_due() == []
    simulator.start()
    Order.objects.filter(pk=order.pk).update(next_attempt_at=timezone.now())
    assert forward_due() == [order.pk] and order_forward(order_id=order.pk) == "sent"


def test_it_holds_an_order_the_provider_refuses_for_now(order, simulator, alice):
    simulator.faults.out_of_funds = True
    assert order_forward(order_id=order.pk) == "held"
    held = _fresh(order)
    assert (held.status, held.last_error) == ("Pending", "Not enough funds on balance")
    assert Wallet.objects.get(user=alice).balance == Decimal("98.65000")
    simulator.faults.out_of_funds = False
    Order.objects.filter(pk=order.pk).update(next_attempt_at=timezone.now())
    assert order_forward(order_id=order.pk) == "sent" and len(simulator.orders) == 1


def test_it_cancels_and_refunds_an_order_refused_for_good(order, simulator, alice):
    simulator.script_reply('{"error": "Incorrect link"}')
    assert order_forward(order_id=order.pk) == "rejected"
    rejected = _fresh(order)
    assert (rejected.status, rejected.submission) == ("Canceled", "rejected")
    assert rejected.reason == "The provider refused the link." and rejected.last_error == "Incorrect link"
    assert LedgerEntry.objects.get(order=order, kind="refund").amount == Decimal("1.35000")
    assert Wallet.objects.get(user=alice).balance == Decimal(100)
    assert list(ledger_mismatches()) == []


def test_it_never_resends_an_ambiguous_add(order, simulator, settings):
    simulator.faults.stall_add = 3
    settings.UPSTREAM_READ_TIMEOUT = 0.3
    assert order_forward(order_id=order.pk) == "unknown"
    simulator.faults.stall_add = 0
    for _ in range(3):
        assert forward_due() == []
        assert order_forward(order_id=order.pk) == ""
    assert _fresh(order).submission == "unknown"
    assert len(simulator.calls_for("add")) == 1 and len(simulator.orders) == 1


def test_the_sweeper_gives_up_on_an_order_whose_worker_died_mid_send(order, settings):
    Order.objects.filter(pk=order.pk).update(submission="sending", submission_changed_at=timezone.now())
    assert orders_sweep() == 0
    Order.objects.filter(pk=order.pk).update(
        submission_changed_at=timezone.now() - timedelta(seconds=settings.ORDER_SENDING_LIMIT + 1)
    )
    assert orders_sweep() == 1
    stuck = _fresh(order)
    assert stuck.submission == "unknown" and "may exist upstream" in stuck.last_error
    assert order_forward(order_id=order.pk) == ""


def test_the_sweeper_finds_queued_orders_whose_message_was_lost(order):
    assert forward_due(settle=timedelta(minutes=1)) == []
    Order.objects.filter(pk=order.pk).update(submission_changed_at=timezone.now() - timedelta(minutes=2))
    assert forward_due(settle=timedelta(minutes=1)) == [order.pk]


@pytest.mark.django_db(transaction=True)
def test_two_workers_forwarding_one_order_send_it_once(services, simulator, bob):
    from billing.services import wallet_credit

    wallet_credit(user=bob, amount=Decimal(10))
    order = order_place(user=bob, service_id=services[1].pk, params={"link": LINK, "quantity": "1000"})
    outcomes = run_together(lambda: order_forward(order_id=order.pk), 8)
    assert sorted(outcomes) == [""] * 7 + ["sent"]
    assert len(simulator.calls_for("add")) == 1


def test_it_keeps_the_upstream_id_in_view_when_it_cannot_be_recorded(alice, services, simulator):
    first = order_place(user=alice, service_id=services[1].pk, params={"link": LINK, "quantity": "1000"})
    order_forward(order_id=first.pk)
    taken = Order.objects.get(pk=first.pk).upstream_id
    second = order_place(user=alice, service_id=services[1].pk, params={"link": LINK, "quantity": "1000"})
    simulator.script_reply(f'{{"order": {taken}}}')  # a provider reusing an id we already hold
    assert order_forward(order_id=second.pk) == "unknown"
    unknown = _fresh(second)
    assert unknown.submission == "unknown" and f"Placed upstream as order {taken}" in unknown.last_error
