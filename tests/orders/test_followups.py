"""Refills and cancels, end to end against the simulator."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from billing.models import LedgerEntry, Wallet
from billing.services import ledger_mismatches
from orders.models import CancelRequest, Order, Refill
from orders.services.followups import cancel_request, cancels_forward, refill_request, refills_forward, refills_poll
from orders.services.forwarding import order_forward
from orders.services.placement import order_place
from orders.services.polling import poll_statuses
from orders.validation import OrderError

pytestmark = pytest.mark.django_db

LINK = "https://instagram.com/p/abc"


def _sent(user, service, quantity: str = "1000") -> Order:
    order = order_place(user=user, service_id=service.pk, params={"link": LINK, "quantity": quantity})
    assert order_forward(order_id=order.pk) == "sent"
    return Order.objects.get(pk=order.pk)


@pytest.fixture
def completed(alice, services, simulator) -> Order:
    simulator.force_outcome = "Completed"
    order = _sent(alice, services[1])
    simulator.clock.advance(3600)
    poll_statuses(everything=True)
    order.refresh_from_db()
    assert order.status == "Completed"
    return order


def test_it_refills_a_completed_order_end_to_end(alice, completed, simulator):
    refill = refill_request(user=alice, order_id=completed.pk)
    assert refill.status == "queued"
    report = refills_forward()
    refill.refresh_from_db()
    assert report.sent == 1 and refill.status == "sent" and refill.upstream_id in simulator.refills
    assert simulator.calls_for("refill")[0].params["orders"] == str(completed.upstream_id)
    simulator.clock.advance(3600)
    refills_poll(everything=True)
    refill.refresh_from_db()
    assert refill.status == "Completed"


def test_it_allows_one_refill_in_flight(alice, completed):
    refill_request(user=alice, order_id=completed.pk)
    with pytest.raises(OrderError, match="Refill is disabled for this order"):
        refill_request(user=alice, order_id=completed.pk)
    assert Refill.objects.count() == 1


def test_it_refuses_refills_outside_the_rules(alice, completed, services):
    Order.objects.filter(pk=completed.pk).update(completed_at=timezone.now() - timedelta(days=31))
    with pytest.raises(OrderError, match="Refill is disabled for this order"):
        refill_request(user=alice, order_id=completed.pk)
    pending = _sent(alice, services[1])
    with pytest.raises(OrderError, match="Refill is disabled for this order"):
        refill_request(user=alice, order_id=pending.pk)
    no_refill = _sent(alice, services[2], quantity="100")
    Order.objects.filter(pk=no_refill.pk).update(status="Completed", completed_at=timezone.now())
    with pytest.raises(OrderError, match="Refill is disabled for this order"):
        refill_request(user=alice, order_id=no_refill.pk)


def test_it_answers_another_customers_order_as_if_it_did_not_exist(completed, bob):
    for request in (refill_request, cancel_request):
        with pytest.raises(OrderError, match="Incorrect order ID"):
            request(user=bob, order_id=completed.pk)
        with pytest.raises(OrderError, match="Incorrect order ID"):
            request(user=bob, order_id="999999")


def test_it_cancels_an_unsent_order_at_once_with_a_full_refund(alice, services):
    order = order_place(user=alice, service_id=services[1].pk, params={"link": LINK, "quantity": "1000"})
    assert cancel_request(user=alice, order_id=order.pk) is None
    order.refresh_from_db()
    assert order.status == "Canceled" and order_forward(order_id=order.pk) == ""
    assert Wallet.objects.get(user=alice).balance == Decimal(100)
    with pytest.raises(OrderError, match="Cancel is disabled for this order"):
        cancel_request(user=alice, order_id=order.pk)
    assert LedgerEntry.objects.filter(order=order, kind="refund").count() == 1


def test_it_cancels_a_sent_order_through_the_provider_and_refunds_on_the_next_poll(alice, services, simulator):
    order = _sent(alice, services[1])
    request = cancel_request(user=alice, order_id=order.pk)
    assert request is not None and cancel_request(user=alice, order_id=order.pk) == request
    report = cancels_forward()
    request.refresh_from_db()
    assert report.accepted == 1 and request.status == "accepted"
    poll_statuses()
    order.refresh_from_db()
    assert order.status == "Canceled"
    assert LedgerEntry.objects.get(order=order, kind="refund").amount == order.charge
    assert list(ledger_mismatches()) == []


def test_it_refuses_to_cancel_where_the_service_does_not_allow_it(alice, services):
    order = _sent(alice, services[4], quantity="500")
    with pytest.raises(OrderError, match="Cancel is disabled for this order"):
        cancel_request(user=alice, order_id=order.pk)
    assert not CancelRequest.objects.exists()


def test_it_records_a_cancel_the_provider_refuses(alice, services, simulator):
    order = _sent(alice, services[1])
    cancel_request(user=alice, order_id=order.pk)
    simulator.script_reply(f'[{{"order": {order.upstream_id}, "cancel": {{"error": "Cancel is disabled"}}}}]')
    assert cancels_forward().refused == 1
    assert CancelRequest.objects.get().last_error == "Cancel is disabled"


def test_overlapping_runs_send_a_refill_once_and_a_dead_run_is_swept(alice, completed, simulator, settings):
    from datetime import timedelta as td

    from orders.services.followups import _claim_queued, followups_sweep

    refill = refill_request(user=alice, order_id=completed.pk)
    assert len(_claim_queued(Refill)) == 1  # a run that dies right after claiming
    assert refills_forward().sent == 0 and simulator.calls_for("refill") == []
    Refill.objects.filter(pk=refill.pk).update(updated_at=timezone.now() - td(seconds=settings.ORDER_SENDING_LIMIT + 1))
    assert followups_sweep() == 1
    assert refills_forward().sent == 1 and len(simulator.calls_for("refill")) == 1
