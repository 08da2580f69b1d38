"""A service's routes in Django admin: each route's margin, the order by priority, adding another provider's
upstream service found by name, upstream id or provider."""

from decimal import Decimal

import pytest
from django.urls import reverse

from catalog.models import Route, Service
from catalog.services.sync import catalog_sync
from tests.conftest import SIMULATOR_KEY
from tests.factories import ProviderFactory, ServiceFactory, UserFactory, second_factor_confirmed
from upstream.simulator import FakeClock, Simulator

pytestmark = pytest.mark.django_db

HOSTILE = '<script>alert("x")</script> Likes'


@pytest.fixture
def backup():
    with Simulator(key=SIMULATOR_KEY, clock=FakeClock()) as sim:
        sim.catalog[0].name = HOSTILE
        sim.catalog[0].rate = Decimal("0.5")
        provider = ProviderFactory.create(name="Backup", api_url=sim.url, api_key=SIMULATOR_KEY)
        catalog_sync(provider=provider)
        yield provider


def _add_route_url(service: Service) -> str:
    return reverse("admin:catalog_service_routes", args=[service.pk])


@pytest.mark.parametrize("query", ["backup", "1", "script"])
def test_it_finds_upstream_services_by_provider_upstream_id_or_name(admin_client, services, backup, query):
    page = admin_client.get(_add_route_url(services[2]), {"q": query}).content.decode()
    backup_route = Route.objects.get(provider=backup, upstream_id=1)
    assert f'value="{backup_route.pk}"' in page
    assert "<script>alert" not in page and "&lt;script&gt;" in page


def test_it_adds_a_route_and_shows_the_margin_of_every_route(admin_client, services, backup):
    service = services[1]
    candidate = Route.objects.get(provider=backup, upstream_id=1)
    response = admin_client.post(_add_route_url(service), {"route": candidate.pk, "priority": ""})
    assert response.status_code == 302
    routes = [(r.provider.name, r.priority) for r in service.routes.select_related("provider")]
    assert routes == [("Sim", 0), ("Backup", 1)]
    page = admin_client.get(reverse("admin:catalog_service_change", args=[service.pk])).content.decode()
    first, second = (r.cost() for r in service.routes.select_related("provider"))
    rate = Service.objects.get(pk=service.pk).rate
    for cost in (first, second):
        assert f"{((rate - cost) / cost * 100).quantize(Decimal('0.1'))}%" in page
    assert "Order, switch, remove or add routes" in page


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"route": "999999"}, "Choose an upstream service from the list."),
        ({"route": "x"}, "Choose an upstream service from the list."),
        ({"route": "{own}"}, "already has Sim #1 as a route"),
        ({"route": "{backup}", "priority": "first"}, "A priority is a whole number"),
        ({"route": "{backup}", "priority": "²"}, "A priority is a whole number from -999999999 to 999999999"),
        ({"route": "{backup}", "priority": "--5"}, "A priority is a whole number from -999999999 to 999999999"),
        ({"route": "{backup}", "priority": "99999999999"}, "A priority is a whole number from -999999999"),
        ({"route": "{package}"}, "Backup #5 is a Package service, and service"),
    ],
)
def test_it_refuses_what_cannot_be_added_and_changes_nothing(admin_client, services, backup, data, problem):
    service = services[1]
    own, other = service.routes.get(), Route.objects.get(provider=backup, upstream_id=1)
    package = Route.objects.get(provider=backup, upstream_id=5)
    data = {name: value.format(own=own.pk, backup=other.pk, package=package.pk) for name, value in data.items()}
    response = admin_client.post(_add_route_url(service), data, follow=True)
    assert problem in response.content.decode()
    assert list(service.routes.values_list("pk", flat=True)) == [own.pk]


def test_the_priorities_set_on_the_routes_page_order_its_routes(admin_client, services, backup):
    service = services[1]
    own, other = service.routes.get(), Route.objects.get(provider=backup, upstream_id=1)
    admin_client.post(_add_route_url(service), {"route": other.pk})
    added = service.routes.get(provider=backup)
    data = {"save": "1", f"priority-{own.pk}": "5", f"active-{own.pk}": "on", f"priority-{added.pk}": "0",
            f"active-{added.pk}": "on"}  # fmt: skip
    assert admin_client.post(_add_route_url(service), data).status_code == 302
    fresh = Service.objects.get(pk=service.pk)
    assert (fresh.provider, fresh.upstream_rate, fresh.rate) == (backup, Decimal("0.5"), Decimal("0.750000"))
    assert [r.provider.name for r in fresh.routes.select_related("provider").order_by("priority")] == ["Backup", "Sim"]

    refused = admin_client.post(_add_route_url(service), {**data, f"priority-{own.pk}": "soon"}, follow=True)
    assert "A priority is a whole number" in refused.content.decode()
    last = admin_client.post(_add_route_url(service), {**data, f"remove-{own.pk}": "on", f"remove-{added.pk}": "on"},
                             follow=True)  # fmt: skip
    assert "keeps at least one route" in last.content.decode() and fresh.routes.count() == 2
    assert admin_client.post(_add_route_url(service), {**data, f"remove-{added.pk}": "on"}).status_code == 302
    assert [r.provider.name for r in fresh.routes.select_related("provider")] == ["Sim"]


def test_removing_a_services_original_route_keeps_it_off_so_the_sync_sells_no_copy(admin_client, services, backup):
    service = services[1]
    own, other = service.routes.get(), Route.objects.get(provider=backup, upstream_id=1)
    admin_client.post(_add_route_url(service), {"route": other.pk})
    added = service.routes.get(provider=backup)
    data = {"save": "1", f"priority-{own.pk}": "0", f"active-{own.pk}": "on", f"remove-{own.pk}": "on",
            f"priority-{added.pk}": "1", f"active-{added.pk}": "on"}  # fmt: skip
    page = admin_client.post(_add_route_url(service), data, follow=True).content.decode()
    assert "Kept Sim #1 turned off rather than removed" in page
    assert list(service.routes.order_by("pk").values_list("provider__name", "is_active")) == [
        ("Sim", False),
        ("Backup", True),
    ]
    assert Service.objects.get(pk=service.pk).provider == backup
    services_before = Service.objects.count()
    catalog_sync(provider=own.provider)
    assert Service.objects.count() == services_before, "no new copy of Sim #1 is put on sale"


def test_staff_who_may_not_change_services_cannot_add_routes(client, services, backup):
    staff = UserFactory.create(is_staff=True)
    client.force_login(staff)
    client = second_factor_confirmed(client, staff)
    response = client.post(_add_route_url(services[1]), {"route": Route.objects.get(provider=backup, upstream_id=1).pk})
    assert response.status_code == 403
    assert services[1].routes.count() == 1


def test_a_manual_service_has_no_routes_to_add(admin_client):
    manual = ServiceFactory.create(provider=None, upstream_id=None)
    assert admin_client.get(_add_route_url(manual)).status_code == 404


def test_the_catalog_role_orders_routes_and_adds_them(client, services, backup):
    from django.contrib.auth.models import Group

    staff = UserFactory.create(is_staff=True)
    staff.groups.add(Group.objects.get(name="Catalog"))
    client.force_login(staff)
    client = second_factor_confirmed(client, staff)
    service = services[1]
    page = client.get(reverse("admin:catalog_service_change", args=[service.pk])).content.decode()
    assert "Order, switch, remove or add routes" in page
    candidate = Route.objects.get(provider=backup, upstream_id=1)
    assert client.post(_add_route_url(service), {"route": candidate.pk, "priority": "0"}).status_code == 302
    assert service.routes.filter(provider=backup, priority=0).exists()


def test_a_route_dearer_than_the_service_is_marked_never_used(admin_client, services, backup):
    youtube = services[4]  # the backup's service 4 costs 2.5 per 1000: dearer than the followers' 1.35
    followers = services[1]
    candidate = Route.objects.get(provider=backup, upstream_id=youtube.upstream_id)
    admin_client.post(_add_route_url(followers), {"route": candidate.pk})
    page = admin_client.get(_add_route_url(followers)).content.decode()
    row = next(part for part in page.split("<tr>") if "<td>Backup</td>" in part)
    assert "-46.0% (too dear: never used)" in row
    own = next(part for part in page.split("<tr>") if "<td>Sim</td>" in part)
    assert "50.0%" in own and "never used" not in own


def test_round_rates_read_as_numbers_on_the_routes_page(admin_client, services, backup):
    Route.objects.filter(provider=backup, upstream_id=6).update(upstream_rate=Decimal(10))
    page = admin_client.get(_add_route_url(services[1]), {"q": "Custom Comments"}).content.decode()
    row = next(part for part in page.split("<tr>") if "<label" in part and "Backup" in part)
    assert "<td>10.00 USD</td>" in row and "E+" not in page


@pytest.mark.parametrize("typed", ["²", "--5", "99999999999", "-", "1e3", "١"])
def test_it_refuses_a_priority_that_is_not_a_plain_number_and_changes_nothing(admin_client, services, backup, typed):
    service = services[1]
    own, other = service.routes.get(), Route.objects.get(provider=backup, upstream_id=1)
    admin_client.post(_add_route_url(service), {"route": other.pk})
    added = service.routes.get(provider=backup)
    data = {"save": "1", f"priority-{own.pk}": typed, f"active-{own.pk}": "on", f"priority-{added.pk}": "-1"}
    response = admin_client.post(_add_route_url(service), data, follow=True)
    assert response.status_code == 200
    assert "A priority is a whole number from -999999999 to 999999999" in response.content.decode()
    assert list(service.routes.order_by("pk").values_list("priority", "is_active")) == [(0, True), (1, True)]


@pytest.mark.parametrize("query", ["²", "١٢", "99999999999999999999", "--1"])
def test_a_search_for_odd_digits_finds_nothing_and_fails_nothing(admin_client, services, backup, query):
    response = admin_client.get(_add_route_url(services[1]), {"q": query})
    assert response.status_code == 200
    assert 'name="route"' not in response.content.decode()
