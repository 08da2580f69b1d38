"""A service's routes in a real browser: a Catalog staff member adds another provider's upstream service as a
route of a service, found by the provider's name, then puts it first; the service then follows its new first route.
Staff pages are in English."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from playwright.sync_api import Page, expect

from backoffice.roles import roles_apply
from catalog.models import Service
from catalog.services.sync import catalog_sync
from tests.browser.conftest import shot
from tests.conftest import SIMULATOR_KEY
from tests.factories import ProviderFactory, UserFactory, second_factor_confirmed
from upstream.simulator import FakeClock, Simulator

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def backup():
    """A second provider selling the demo catalog, a little cheaper."""
    with Simulator(key=SIMULATOR_KEY, clock=FakeClock()) as sim:
        sim.catalog[0].rate = Decimal("0.80")
        provider = ProviderFactory.create(name="Backup", api_url=sim.url, api_key=SIMULATOR_KEY)
        catalog_sync(provider=provider)
        yield provider


def _signed_in_catalog_staff(page: Page, live_server) -> None:
    roles_apply()
    cora = UserFactory.create(username="cora", is_staff=True)
    cora.groups.add(Group.objects.get(name="Catalog"))
    client = Client()
    client.force_login(cora)
    session = second_factor_confirmed(client, cora).cookies["sessionid"].value
    page.context.add_cookies([{"name": "sessionid", "value": session, "url": live_server.url}])


def test_catalog_staff_add_a_backup_route_and_put_it_first(page: Page, live_server, services, backup):
    followers = services[1]
    _signed_in_catalog_staff(page, live_server)
    page.goto(f"/admin/catalog/service/{followers.pk}/change/")
    page.get_by_role("link", name="Order, switch, remove or add routes").click()
    expect(page.locator("h2", has_text="Add a route")).to_be_visible()
    page.fill("#route-search", "backup")
    page.get_by_role("button", name="Search").click()
    candidate = page.locator("tr", has=page.get_by_label("Backup")).filter(has_text="Instagram").first
    expect(candidate).to_contain_text("0.80 USD")
    candidate.locator("input[type=radio]").check()
    shot(page, "admin-routes-search")
    page.get_by_role("button", name="Add this route").click()
    expect(page.locator(".messagelist")).to_contain_text("Added route Backup #1")
    rows = page.locator("form:has(input[name=save]) tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("Sim")
    expect(rows.nth(1)).to_contain_text("Backup")
    shot(page, "admin-routes")

    page.get_by_label("priority of Backup #1").fill("-1")
    page.get_by_role("button", name="Save the routes").click()
    expect(page.locator(".messagelist")).to_contain_text("Saved the routes.")
    expect(rows.nth(0)).to_contain_text("Backup")
    service = Service.objects.select_related("provider").get(pk=followers.pk)
    assert (str(service.provider), service.upstream_rate) == ("Backup", Decimal("0.80"))
    shot(page, "admin-routes-reordered")
