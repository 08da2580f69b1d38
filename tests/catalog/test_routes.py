"""Routes of a service: made by the sync, kept up to date by each provider's sync, added by command."""

from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from catalog.models import Route, Service
from catalog.services.sync import catalog_sync
from orders.services.forwarding import order_forward
from orders.services.placement import order_place
from tests.conftest import SIMULATOR_KEY
from tests.factories import ProviderFactory, ServiceFactory
from upstream.simulator import FakeClock, Simulator

pytestmark = pytest.mark.django_db

LINK = "https://instagram.com/p/abc"


@pytest.fixture
def second():
    """A second provider, its own simulator, selling the same demo catalog."""
    with Simulator(key=SIMULATOR_KEY, clock=FakeClock()) as sim:
        yield sim


@pytest.fixture
def backup(second):
    return ProviderFactory(name="Backup", api_url=second.url, api_key=SIMULATOR_KEY)


def _routes(service: Service) -> list[tuple[str, int | None, int]]:
    return [(r.provider.name, r.upstream_id, r.priority) for r in service.routes.select_related("provider")]


def test_the_sync_gives_every_new_service_its_upstream_service_as_only_route(services, simulator):
    service = services[1]
    (route,) = service.routes.all()
    assert (route.provider_id, route.upstream_id, route.priority) == (service.provider_id, 1, 0)
    assert (route.upstream_rate, route.min_quantity, route.max_quantity) == (
        service.upstream_rate,
        service.min_quantity,
        service.max_quantity,
    )
    assert Route.objects.count() == len(simulator.catalog)


def test_each_sync_keeps_its_routes_data_and_marks_vanished_ones(services, simulator, provider):
    simulator.catalog[0].rate = Decimal("2.5")
    gone = simulator.catalog.pop()
    catalog_sync(provider=provider)
    assert Route.objects.get(provider=provider, upstream_id=simulator.catalog[0].id).upstream_rate == Decimal("2.5")
    assert Route.objects.get(provider=provider, upstream_id=gone.id).missing_upstream
    assert Route.objects.count() == len(simulator.catalog) + 1


def test_add_route_makes_another_providers_service_a_failover_route(services, backup, second, capsys):
    catalog_sync(provider=backup)
    service = services[1]
    call_command("add_route", str(service.pk), "Backup", "1")
    assert _routes(service) == [("Sim", 1, 0), ("Backup", 1, 1)]
    assert "Added route Backup #1" in capsys.readouterr().out
    # The backup's own sync keeps the route's data, and creates no second service for it.
    second.catalog[0].rate = Decimal("0.5")
    services_before = Service.objects.count()
    catalog_sync(provider=backup)
    assert service.routes.get(provider=backup).upstream_rate == Decimal("0.5")
    assert Service.objects.count() == services_before
    fresh = Service.objects.get(pk=service.pk)
    assert (fresh.provider.name, fresh.rate) == ("Sim", service.rate)


def test_a_route_added_first_becomes_the_price_basis(services, backup, second):
    second.catalog[0].rate = Decimal("0.4")
    catalog_sync(provider=backup)
    service = services[1]
    call_command("add_route", str(service.pk), "Backup", "1", "--priority", "-1")
    fresh = Service.objects.get(pk=service.pk)
    assert (fresh.provider.name, fresh.upstream_id, fresh.upstream_rate) == ("Backup", 1, Decimal("0.4"))
    assert fresh.rate == Decimal("0.600000")  # 0.4 at the 50% markup
    assert fresh.prices.latest().rate == Decimal("0.600000")


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["999999", "Backup", "1"], "there is no service 999999"),
        (["{service}", "Nobody", "1"], "there is no provider named 'Nobody'"),
        (["{service}", "Backup", "424242"], "Backup has no upstream service 424242 in its synced catalog"),
        (["{service}", "Sim", "1"], "already has Sim #1 as a route"),
        (["{manual}", "Backup", "1"], "is fulfilled by staff: it has no routes"),
        (["{service}", "Backup", "5"], "Backup #5 is a Package service, and service [0-9]+ is Default"),
        (["{service}", "Backup", "1", "--priority", "99999999999"], "A priority is a whole number from -999999999"),
    ],
)
def test_add_route_refuses_what_cannot_be_a_route(services, backup, args, problem):
    catalog_sync(provider=backup)
    manual = ServiceFactory.create(provider=None, upstream_id=None)
    args = [a.format(service=services[1].pk, manual=manual.pk) for a in args]
    before = list(Route.objects.order_by("pk").values_list("pk", "priority"))
    with pytest.raises(CommandError, match=problem):
        call_command("add_route", *args)
    assert list(Route.objects.order_by("pk").values_list("pk", "priority")) == before
    assert not manual.routes.exists()


@pytest.mark.django_db(transaction=True)
def test_the_migration_routes_every_service_to_its_provider_and_open_orders_keep_polling(migrate, simulator):
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    from orders.models import Order
    from orders.services.forwarding import order_forward
    from orders.services.polling import poll_statuses
    from tests.factories import CategoryFactory, UserFactory

    old = migrate([("catalog", "0006_manual_services"), ("orders", "0008_order_refund_permission")])
    old_service, old_order = old.get_model("catalog", "Service"), old.get_model("orders", "Order")
    provider = old.get_model("catalog", "Provider").objects.create(name="Sim", api_url=simulator.url,
                                                                   api_key=SIMULATOR_KEY)  # fmt: skip
    category = CategoryFactory.create()
    common = {"category_id": category.pk, "upstream_rate": 1, "min_quantity": 10, "max_quantity": 5000, "rate": 2}
    sold = old_service.objects.create(provider=provider, upstream_id=1, name="Likes", upstream_name="Likes",
                                      refill=True, **common)  # fmt: skip
    manual = old_service.objects.create(name="By hand", upstream_name="By hand", **common)
    simulator.force_outcome = "Completed"
    upstream_id = simulator.answer({"key": SIMULATOR_KEY, "action": "add", "service": "1",
                                    "link": "https://instagram.com/p/old", "quantity": "1000"})["order"]  # fmt: skip
    user = UserFactory.create()
    open_order = old_order.objects.create(user_id=user.pk, service_id=sold.pk, provider_id=provider.pk,
                                          upstream_service_id=1, upstream_id=upstream_id, submission="sent",
                                          link="https://instagram.com/p/old", quantity=1000, rate=2, charge=2,
                                          cost=1)  # fmt: skip

    queued = old_order.objects.create(user_id=user.pk, service_id=sold.pk, provider_id=provider.pk,
                                      upstream_service_id=1, link="https://instagram.com/p/queued", quantity=1000,
                                      rate=2, charge=2, cost=1)  # fmt: skip

    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())  # the latest, as after a deploy
    (route,) = Route.objects.filter(service_id=sold.pk)
    assert (route.provider_id, route.upstream_id, route.priority, route.refill) == (provider.pk, 1, 0, True)
    assert (route.upstream_rate, route.min_quantity, route.max_quantity) == (1, 10, 5000)
    assert not Route.objects.filter(service_id=manual.pk).exists()

    assert order_forward(order_id=queued.pk) == "sent"
    assert Order.objects.get(pk=queued.pk).route == route
    simulator.clock.advance(3600)
    poll_statuses(everything=True)
    polled = Order.objects.get(pk=open_order.pk)
    assert (polled.status, polled.remains) == ("Completed", 0)


def test_a_service_whose_first_route_vanished_goes_on_through_the_next(services, simulator, backup, second, alice):
    second.catalog[0].rate = Decimal("0.8")
    catalog_sync(provider=backup)
    service = services[1]
    call_command("add_route", str(service.pk), "Backup", "1")
    full = list(simulator.catalog)
    simulator.catalog = [s for s in full if s.id != 1]
    catalog_sync(provider=service.provider)

    fresh = Service.objects.get(pk=service.pk)
    assert fresh.is_active and not fresh.missing_upstream
    assert (fresh.provider.name, fresh.upstream_rate, fresh.rate) == ("Backup", Decimal("0.8"), Decimal("1.200000"))
    assert service.routes.get(provider__name="Sim").missing_upstream
    order = order_place(user=alice, service_id=service.pk, params={"link": LINK, "quantity": "1000"})
    assert order_forward(order_id=order.pk) == "sent"
    assert simulator.calls_for("add") == [] and len(second.calls_for("add")) == 1

    simulator.catalog = full
    catalog_sync(provider=service.provider)
    back = Service.objects.get(pk=service.pk)
    assert (back.provider.name, back.rate, back.is_active) == ("Sim", service.rate, True), "its first route again"

    simulator.catalog = [s for s in full if s.id != 1]
    second.catalog = [s for s in second.catalog if s.id != 1]
    catalog_sync(provider=backup)
    catalog_sync(provider=service.provider)
    gone = Service.objects.get(pk=service.pk)
    assert not gone.is_active and gone.disabled_reason == Service.DisabledReason.MISSING_UPSTREAM
