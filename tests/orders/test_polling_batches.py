"""Polling's batches: the same few statements per chunk however many orders change or are refunded, and a
failed call gives back every order this run had claimed."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.models import LedgerEntry, Wallet
from billing.services import ledger_mismatches, wallet_credit
from orders.models import Order
from orders.services.forwarding import order_forward
from orders.services.placement import order_place
from orders.services.polling import poll_statuses
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _sent_orders(user, service, count: int) -> list[Order]:
    orders = [
        order_place(user=user, service_id=service.pk, params={"link": f"https://x.com/p/{n}", "quantity": "100"})
        for n in range(count)
    ]
    for order in orders:
        assert order_forward(order_id=order.pk) == "sent"
    return orders


def _statements_of_a_cycle() -> int:
    with CaptureQueriesContext(connection) as queries:
        report = poll_statuses(everything=True)
    assert report.polled == 100 and report.upstream_calls == 1
    return len([query for query in queries.captured_queries if "SAVEPOINT" not in query["sql"]])


def test_a_chunk_takes_as_many_statements_with_100_refunds_as_with_one(services, simulator):
    dave, erin = UserFactory.create(username="dave"), UserFactory.create(username="erin")
    for user in (dave, erin):
        wallet_credit(user=user, amount=Decimal(1000))
    simulator.force_outcome = "Canceled"
    first = _sent_orders(dave, services[3], 99) + _sent_orders(erin, services[3], 1)
    simulator.clock.advance(3600)
    all_refunded = _statements_of_a_cycle()
    assert LedgerEntry.objects.filter(kind="refund", order__in=first).count() == 100

    simulator.force_outcome = "Completed"
    second = _sent_orders(dave, services[3], 99)
    simulator.force_outcome = "Canceled"
    second += _sent_orders(erin, services[3], 1)
    simulator.clock.advance(3600)
    one_refunded = _statements_of_a_cycle()
    assert LedgerEntry.objects.filter(kind="refund", order__in=second).count() == 1
    assert all_refunded == one_refunded
    for user in (dave, erin):
        wallet = Wallet.objects.get(user=user)
        assert wallet.balance == Decimal(1000) - sum(
            o.charge for o in Order.objects.filter(user=user, status="Completed")
        )
    assert list(ledger_mismatches()) == []


def test_a_failed_call_gives_back_every_order_the_run_had_claimed(alice, services, simulator):
    wallet_credit(user=alice, amount=Decimal(1000))
    simulator.force_outcome = "Completed"
    orders = _sent_orders(alice, services[3], 250)
    simulator.faults.html_502 = 1
    report = poll_statuses(everything=True)
    assert report.failures and report.polled == 0
    # The first chunk's call failed while the second chunk was claimed already: both are free again.
    assert not Order.objects.filter(pk__in=[o.pk for o in orders], poll_claimed_at__isnull=False).exists()
    simulator.clock.advance(30)
    assert poll_statuses(everything=True).polled == 250
    assert Order.objects.filter(pk__in=[o.pk for o in orders], status="In progress").count() == 250
