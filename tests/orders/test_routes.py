"""Failover between a service's routes and the quarantine of failing routes, against two simulator providers."""

import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from backoffice.models import Alert
from billing.models import LedgerEntry, Wallet
from catalog.models import Route
from catalog.services.routes import route_add
from catalog.services.sync import catalog_sync
from orders.models import ForwardAttempt, Order
from orders.services.followups import (
    cancel_allowed,
    cancel_request,
    cancels_forward,
    refill_allowed,
    refill_request,
    refills_forward,
)
from orders.services.forwarding import order_forward, orders_sweep
from orders.services.operators import order_finish
from orders.services.placement import order_place
from orders.services.polling import poll_statuses
from orders.validation import OrderError
from tests.concurrency import start_in_thread
from tests.conftest import SIMULATOR_KEY
from tests.factories import ProviderFactory
from upstream.messages import CANCEL_DISABLED, REFILL_DISABLED
from upstream.simulator import FakeClock, Simulator

pytestmark = pytest.mark.django_db

LINK = "https://instagram.com/p/routes"


@pytest.fixture
def second():
    """The backup provider's own simulator, selling the same demo catalog."""
    with Simulator(key=SIMULATOR_KEY, clock=FakeClock()) as sim:
        yield sim


@pytest.fixture
def service(services, second):
    """Service 1 of the first provider, with the backup provider's service 1 as its second route."""
    backup = ProviderFactory.create(name="Backup", api_url=second.url, api_key=SIMULATOR_KEY)
    catalog_sync(provider=backup)
    route_add(service=services[1], provider=backup, upstream_id=1, actor=None)
    return services[1]


def _place(user, service, quantity: int = 1000) -> Order:
    order = order_place(user=user, service_id=service.pk, params={"link": LINK, "quantity": str(quantity)})
    order_forward(order_id=order.pk)
    return Order.objects.select_related("provider", "route").get(pk=order.pk)


def _attempts(order: Order) -> list[tuple[str, str]]:
    return [(a.provider.name, a.outcome) for a in ForwardAttempt.objects.filter(order=order).select_related("provider")]


def test_orders_go_to_the_second_provider_while_the_first_is_out_of_funds(alice, service, simulator, second):
    simulator.faults.out_of_funds = True
    placed = [_place(alice, service) for _ in range(3)]
    placed_on = [(o.submission, o.provider.name, o.route.provider.name) for o in placed]
    assert placed_on == [("sent", "Backup", "Backup")] * 3
    assert len(second.orders) == 3 and not simulator.orders
    assert sorted(o.upstream_id for o in placed) == sorted(second.orders)
    assert _attempts(placed[0]) == [("Sim", "held"), ("Backup", "sent")]
    first_attempt = ForwardAttempt.objects.filter(order=placed[0]).first()
    assert first_attempt.message == "Not enough funds on balance" and first_attempt.at is not None

    simulator.faults.out_of_funds = False
    again = _place(alice, service)
    assert (again.provider.name, len(simulator.orders), len(second.orders)) == ("Sim", 1, 3)
    assert _attempts(again) == [("Sim", "sent")]


def test_status_refill_and_cancel_go_to_the_provider_the_order_was_placed_on(alice, service, simulator, second):
    simulator.faults.out_of_funds = True
    second.force_outcome = "Completed"
    done, running = _place(alice, service), _place(alice, service)
    simulator.faults.out_of_funds = False
    second.clock.advance(30)
    poll_statuses(everything=True)
    assert not simulator.calls_for("status") and second.calls_for("status")
    assert Order.objects.get(pk=running.pk).status == "In progress"
    second.clock.advance(3600)
    poll_statuses(everything=True)
    assert Order.objects.get(pk=done.pk).status == "Completed"

    refill_request(user=alice, order_id=done.pk)
    refills_forward()
    assert [c.params["orders"] for c in second.calls_for("refill")] == [str(done.upstream_id)]
    assert not simulator.calls_for("refill")

    fresh = _place(alice, service)  # the first provider has funds again: placed there
    second.force_outcome = None
    assert fresh.provider.name == "Sim"
    simulator.faults.out_of_funds = True
    pending = _place(alice, service)
    cancel_request(user=alice, order_id=pending.pk)
    cancels_forward()
    assert [c.params["orders"] for c in second.calls_for("cancel")] == [str(pending.upstream_id)]
    assert not simulator.calls_for("cancel")


def test_an_ambiguous_add_is_never_retried_on_another_route(alice, service, simulator, second, settings):
    simulator.faults.stall_add = 3
    settings.UPSTREAM_READ_TIMEOUT = 0.3
    order = _place(alice, service)
    simulator.faults.stall_add = 0
    assert (order.submission, order.provider.name) == ("unknown", "Sim")
    assert order_forward(order_id=order.pk) == ""
    assert not second.calls_for("add") and len(simulator.calls_for("add")) == 1
    assert _attempts(order) == [("Sim", "unknown")]


def test_a_service_refused_for_good_goes_to_the_next_route(alice, service, simulator, second):
    simulator.script_reply('{"error": "Service is disabled"}')
    order = _place(alice, service)
    assert (order.submission, order.provider.name, order.status) == ("sent", "Backup", "Pending")
    assert _attempts(order) == [("Sim", "rejected"), ("Backup", "sent")]


def test_with_no_route_left_it_is_held_or_rejected_as_before(alice, service, simulator, second):
    simulator.faults.out_of_funds = second.faults.out_of_funds = True
    held = _place(alice, service)
    assert (held.submission, held.last_error) == ("held", "Not enough funds on balance")
    simulator.faults.out_of_funds = second.faults.out_of_funds = False
    simulator.script_reply('{"error": "Incorrect link"}')
    second.script_reply('{"error": "Incorrect link"}')
    rejected = _place(alice, service)
    assert (rejected.submission, rejected.status) == ("rejected", "Canceled")
    assert LedgerEntry.objects.get(order=rejected, kind="refund").amount == rejected.charge
    assert _attempts(rejected) == [("Sim", "rejected"), ("Backup", "rejected")]
    assert Wallet.objects.get(user=alice).balance == Decimal(100) - held.charge


def test_a_route_dearer_than_the_price_is_never_used(alice, service, simulator, second):
    second.catalog[0].rate = Decimal(100)
    catalog_sync(provider=Route.objects.get(service=service, priority=1).provider)
    simulator.faults.out_of_funds = True
    order = _place(alice, service)
    assert (order.submission, order.provider.name) == ("held", "Sim")
    assert not second.calls_for("add")


def test_a_route_outside_its_limits_is_skipped(alice, service, simulator, second):
    second.catalog[0].max = 500
    catalog_sync(provider=Route.objects.get(service=service, priority=1).provider)
    simulator.faults.out_of_funds = True
    assert _place(alice, service, quantity=1000).submission == "held"
    assert _place(alice, service, quantity=400).provider.name == "Backup"
    assert len(second.calls_for("add")) == 1


def test_a_failing_route_is_quarantined_then_comes_back_by_itself(alice, service, simulator, second, settings):
    settings.ROUTE_QUARANTINE_FAILURES, settings.ROUTE_QUARANTINE_WINDOW = 3, 60
    settings.ROUTE_QUARANTINE_COOLDOWN = 2
    simulator.faults.out_of_funds = True
    for _ in range(3):
        _place(alice, service)
    first = Route.objects.get(service=service, priority=0)
    assert first.quarantined_until is not None
    (alert,) = Alert.objects.filter(kind="route_quarantined", resolved_at__isnull=True)
    assert f"route Sim #1 of service {service.pk} quarantined" in alert.subject

    simulator.faults.out_of_funds = False
    adds_before = len(simulator.calls_for("add"))
    skipped = _place(alice, service)
    assert skipped.provider.name == "Backup" and len(simulator.calls_for("add")) == adds_before
    assert _attempts(skipped) == [("Backup", "sent")]

    time.sleep(2.1)
    back = _place(alice, service)
    assert back.provider.name == "Sim" and _attempts(back) == [("Sim", "sent")]
    assert Route.objects.get(pk=first.pk).quarantined_until is None
    assert not Alert.objects.filter(kind="route_quarantined", resolved_at__isnull=True).exists()


def test_failures_spread_beyond_the_window_never_quarantine(alice, service, simulator, settings):
    settings.ROUTE_QUARANTINE_FAILURES, settings.ROUTE_QUARANTINE_WINDOW = 2, 1
    simulator.faults.out_of_funds = True
    _place(alice, service)
    time.sleep(1.1)
    _place(alice, service)
    assert Route.objects.get(service=service, priority=0).quarantined_until is None
    _place(alice, service)
    assert Route.objects.get(service=service, priority=0).quarantined_until is not None


def test_orders_the_provider_reports_failed_count_against_their_route(alice, service, simulator, settings):
    settings.ROUTE_QUARANTINE_FAILURES = 2
    orders = [_place(alice, service) for _ in range(2)]
    failing = ", ".join(f'"{o.upstream_id}": {{"status": "Fail", "remains": "", "charge": ""}}' for o in orders[:1])
    for _ in range(2):  # one failed order, polled twice, is one failure
        simulator.script_reply(f"{{{failing}}}")
        poll_statuses(everything=True)
    first = Route.objects.get(service=service, priority=0)
    assert (first.failures, first.quarantined_until) == (1, None)
    failing = ", ".join(f'"{o.upstream_id}": {{"status": "Error", "remains": "", "charge": ""}}' for o in orders)
    simulator.script_reply(f"{{{failing}}}")
    poll_statuses(everything=True)
    assert Route.objects.get(pk=first.pk).quarantined_until is not None


def test_with_every_route_off_it_waits_held_and_sends_nothing(alice, service, simulator, second):
    Route.objects.filter(service=service).update(is_active=False)
    order = _place(alice, service)
    assert (order.submission, order.status) == ("held", "Pending")
    assert order.last_error.startswith("No route can take this order now")
    assert not simulator.calls_for("add") and not second.calls_for("add")
    assert Wallet.objects.get(user=alice).balance == Decimal(100) - order.charge


def test_refill_and_cancel_follow_what_the_route_it_was_placed_on_offers(alice, service, simulator, second):
    second.catalog[0].refill = second.catalog[0].cancel = False  # the backup provider neither refills nor cancels
    catalog_sync(provider=Route.objects.get(service=service, priority=1).provider)
    simulator.faults.out_of_funds = True
    second.force_outcome = "Completed"
    done = _place(alice, service)
    second.force_outcome = None
    pending = _place(alice, service)
    second.clock.advance(3600)
    poll_statuses(everything=True)
    done, pending = (Order.objects.select_related("service", "route").get(pk=o.pk) for o in (done, pending))
    assert (done.status, done.route.provider.name, done.service.refill, done.service.cancel) == (
        "Completed", "Backup", True, True)  # fmt: skip
    assert not refill_allowed(done) and not cancel_allowed(pending)
    with pytest.raises(OrderError, match=REFILL_DISABLED):
        refill_request(user=alice, order_id=done.pk)
    with pytest.raises(OrderError, match=CANCEL_DISABLED):
        cancel_request(user=alice, order_id=pending.pk)
    refills_forward()
    cancels_forward()
    assert not second.calls_for("refill") and not second.calls_for("cancel")

    simulator.faults.out_of_funds = False  # placed on the first route, which does both
    on_first = Order.objects.select_related("service", "route").get(pk=_place(alice, service).pk)
    assert on_first.route.provider.name == "Sim" and cancel_allowed(on_first)


@pytest.fixture
def drip_service(services, second):
    """Service 2 (drip-feed at the provider), with the backup provider's service 2, which has none, as its second
    route."""
    second.catalog[1].dripfeed = False
    backup = ProviderFactory.create(name="Backup", api_url=second.url, api_key=SIMULATOR_KEY)
    catalog_sync(provider=backup)
    route_add(service=services[2], provider=backup, upstream_id=2, actor=None)
    return services[2]


def test_a_drip_feed_sent_with_runs_never_fails_over_to_a_route_without_drip_feed(
    alice, drip_service, simulator, second
):
    simulator.faults.out_of_funds = True
    params = {"link": LINK, "quantity": "100", "runs": "5", "interval": "30"}
    drip = order_place(user=alice, service_id=drip_service.pk, params=params)
    plain = order_place(user=alice, service_id=drip_service.pk, params={"link": LINK, "quantity": "100"})
    for order in (drip, plain):
        order_forward(order_id=order.pk)
    drip, plain = (Order.objects.select_related("provider").get(pk=o.pk) for o in (drip, plain))
    assert (drip.submission, drip.provider.name, drip.upstream_id) == ("held", "Sim", None)
    assert _attempts(drip) == [("Sim", "held")]
    assert (plain.submission, plain.provider.name) == ("sent", "Backup")  # an order without runs may go there
    assert [add.params.get("runs") for add in second.calls_for("add")] == [None]

    simulator.faults.out_of_funds = False
    Order.objects.filter(pk=drip.pk).update(next_attempt_at=None)
    order_forward(order_id=drip.pk)
    adds = [add for add in simulator.calls_for("add") if "runs" in add.params]
    assert len(adds) == 2 and adds[0].params == adds[1].params  # the held try, then the one that went through
    assert (adds[1].params["runs"], adds[1].params["interval"], adds[1].params["quantity"]) == ("5", "30", "100")
    assert Order.objects.get(pk=drip.pk).submission == "sent"


def test_an_order_that_fails_over_to_a_dearer_route_records_what_it_costs_there(alice, service, simulator, second):
    second.catalog[0].rate = Decimal("1.2")
    catalog_sync(provider=Route.objects.get(service=service, priority=1).provider)
    first = _place(alice, service, quantity=2000)
    assert (first.provider.name, first.cost) == ("Sim", Decimal("1.80000"))  # 0.90 per 1000
    simulator.faults.out_of_funds = True
    order = _place(alice, service, quantity=2000)
    assert (order.submission, order.provider.name) == ("sent", "Backup")
    assert order.cost == Decimal("2.40000"), "the backup's 1.20 per 1000, not the first route's 0.90"


def _when_it_calls(sim: Simulator) -> None:
    """Wait (a bounded poll, no fixed sleep) until the worker's add reached this provider."""
    deadline = time.monotonic() + 10
    while not sim.calls_for("add"):
        assert time.monotonic() < deadline, "the worker never called the provider"
        time.sleep(0.01)


def _swept(order_id: int) -> None:
    """The sweeper gives up on the attempt in flight, as if the worker had been stuck past the limit."""
    Order.objects.filter(pk=order_id).update(submission_changed_at=timezone.now() - timedelta(days=1))
    assert orders_sweep() == 1


@pytest.mark.django_db(transaction=True)
def test_an_order_taken_over_while_a_route_answered_is_never_sent_to_the_next(
    alice, service, simulator, second, admin_user
):
    simulator.faults.out_of_funds, simulator.faults.latency = True, 1.0
    order = order_place(user=alice, service_id=service.pk, params={"link": LINK, "quantity": "1000"})
    outcome: list[str] = []
    worker, errors = start_in_thread(lambda: outcome.append(order_forward(order_id=order.pk)))
    _when_it_calls(simulator)
    _swept(order.pk)
    order_finish(order_id=order.pk, status=Order.Status.CANCELED, actor=admin_user)  # the operator's call
    worker.join()
    assert (errors, outcome) == ([], [""])
    assert second.calls_for("add") == [], "it went nowhere after the operator took it over"
    assert Order.objects.get(pk=order.pk).status == "Canceled"
    assert _attempts(order) == [("Sim", "held")]


@pytest.mark.django_db(transaction=True)
def test_an_order_swept_during_its_call_to_a_backup_names_the_backup(alice, service, simulator, second):
    simulator.faults.out_of_funds, second.faults.latency = True, 1.0
    order = order_place(user=alice, service_id=service.pk, params={"link": LINK, "quantity": "1000"})
    worker, errors = start_in_thread(lambda: order_forward(order_id=order.pk))
    _when_it_calls(second)
    _swept(order.pk)
    unknown = Order.objects.select_related("provider", "route").get(pk=order.pk)
    assert (unknown.submission, unknown.provider.name, unknown.route.provider.name) == ("unknown", "Backup", "Backup")
    worker.join()
    sent = Order.objects.get(pk=order.pk)
    assert (errors, sent.submission, sent.upstream_id) == ([], "sent", next(iter(second.orders)))
    assert not simulator.orders
