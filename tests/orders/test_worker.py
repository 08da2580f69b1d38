"""The whole path with a real Celery worker on the configured broker (Redis in CI): placement enqueues after
commit, the worker forwards, the beat jobs poll and refund."""

import time
from decimal import Decimal

import pytest
from celery.contrib.testing.worker import start_worker

from billing.models import Wallet
from billing.services import ledger_mismatches, wallet_credit
from orders.models import Order
from orders.services.placement import order_place
from orders.tasks import poll_orders
from panel.celery import app as celery_app
from tests.factories import UserFactory


def _wait_for(condition, seconds: float = 15) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_forwards_each_placed_order_once_and_polling_refunds_it(services, simulator):
    celery_app.control.purge()  # messages that earlier tests published without a worker
    erin = UserFactory.create(username="erin")
    wallet_credit(user=erin, amount=Decimal(10))
    simulator.force_outcome = "Canceled"
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        orders = [
            order_place(
                user=erin, service_id=services[1].pk, params={"link": f"https://x.com/p/{i}", "quantity": "1000"}
            )
            for i in range(3)
        ]
        assert _wait_for(lambda: Order.objects.filter(submission="sent").count() == 3)
        simulator.clock.advance(3600)
        poll_orders.delay()
        assert _wait_for(lambda: Order.objects.filter(status="Canceled").count() == 3)
    assert len(simulator.calls_for("add")) == 3
    assert {call.params["link"] for call in simulator.calls_for("add")} == {o.link for o in orders}
    assert Wallet.objects.get(user=erin).balance == Decimal(10)
    assert list(ledger_mismatches()) == []
