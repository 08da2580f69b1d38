"""The services page: the catalog as a customer reads it, at their own rates, rendered once per catalog change."""

import re
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.services import api_key_issue
from catalog.models import Service
from catalog.selectors import CACHE_KEY, catalog_changed
from catalog.services.listings import service_save
from tests.factories import CategoryFactory, ProviderFactory, ServiceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_catalog(db):
    # The cache outlives each test's transaction; the services created here are a new catalog.
    catalog_changed()


@pytest.fixture
def browser(client, alice):
    client.force_login(alice)
    return client


def _rates(page: str) -> dict[int, Decimal]:
    """Each listed service's rate per 1000, as the page shows it."""
    found = re.findall(r'<tr data-id="(\d+)".*?<td class="num">([^<]*)</td>', page, re.DOTALL)
    return {int(pk): Decimal(rate.replace(",", "")) for pk, rate in found}


def _page(client, **params):
    response = client.get("/services/", params)
    assert response.status_code == 200
    return response.content.decode()


def test_it_sends_visitors_to_sign_in(client):
    response = client.get("/services/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_it_groups_what_is_for_sale_by_category_in_the_admins_order(browser):
    later = CategoryFactory.create(name="Likes", position=2)
    first = CategoryFactory.create(name="Followers", position=1)
    provider = ProviderFactory.create()
    ServiceFactory.create(name="Quick likes", category=later, provider=provider)
    ServiceFactory.create(name="Real followers", category=first, provider=provider)
    ServiceFactory.create(name="Retired", category=first, provider=provider, is_active=False)
    ServiceFactory.create(name="In a hidden category", category=CategoryFactory.create(is_active=False))
    ServiceFactory.create(name="From a paused provider", provider=ProviderFactory.create(is_active=False))
    page = _page(browser)
    table = page[page.index("<table") :]
    assert re.findall(r'<th colspan="7" scope="colgroup">(.*?)</th>|data-name>(.*?)</span>', table) == [
        ("Followers", ""),
        ("", "Real followers"),
        ("Likes", ""),
        ("", "Quick likes"),
    ]
    for hidden in ("Retired", "In a hidden category", "From a paused provider"):
        assert hidden not in page


def test_it_shows_each_services_facts(browser):
    ServiceFactory.create(
        name="Followers <img src=x onerror=alert(1)>",
        description="Starts in 1 hour.\n<b>No</b> drops.",
        min_quantity=100,
        max_quantity=50000,
        refill=True,
        cancel=True,
        dripfeed=True,
        average_seconds=7500,
    )
    service = Service.objects.get()
    page = _page(browser)
    assert "Followers &lt;img src=x onerror=alert(1)&gt;" in page and "<img src=x" not in page
    assert "Starts in 1 hour.\n&lt;b&gt;No&lt;/b&gt; drops." in page
    assert '<td class="num">100</td>' in page and '<td class="num">50,000</td>' in page
    assert "2 hours 5 minutes" in page
    for badge in ("Refill", "Cancel", "Drip-feed"):
        assert f'class="badge{" ok" if badge == "Refill" else ""}">{badge}</span>' in page
    assert f'href="/orders/new/?service={service.pk}"' in page
    assert _rates(page) == {service.pk: Decimal("1.50")}


def test_it_shows_the_customers_own_rates_exactly_as_the_api_does(client, alice, services):
    alice.discount_percent = Decimal(10)
    alice.save()
    client.force_login(alice)
    shown = _rates(_page(client))
    listed = client.post("/api/v2", {"key": api_key_issue(user=alice), "action": "services"}).json()
    assert shown == {row["service"]: Decimal(row["rate"]) for row in listed}
    base = {service.pk: service.rate for service in services.values()}
    assert any(shown[pk] < base[pk] for pk in shown)


def test_it_renders_the_catalog_once_and_again_right_after_a_price_change(
    client, alice, bob, django_capture_on_commit_callbacks
):
    service = ServiceFactory.create(name="Views", fixed_rate=Decimal("2.000000"), rate=Decimal("2.000000"))
    bob.discount_percent = Decimal(25)
    bob.save(update_fields=["discount_percent"])
    client.force_login(alice)
    assert _rates(_page(client)) == {service.pk: Decimal("2.00")}
    cache.delete(CACHE_KEY)  # the page itself is cached, not only the rows it is made of
    with CaptureQueriesContext(connection) as queries:
        assert _rates(_page(client)) == {service.pk: Decimal("2.00")}
    assert not [query for query in queries if "catalog_" in query["sql"]]

    client.force_login(bob)
    assert _rates(_page(client)) == {service.pk: Decimal("1.50")}

    service.fixed_rate = Decimal("3.000000")
    with django_capture_on_commit_callbacks(execute=True):
        service_save(service=service, fields=["fixed_rate"], actor=None)
    assert _rates(_page(client)) == {service.pk: Decimal("2.25")}
    client.force_login(alice)
    assert _rates(_page(client)) == {service.pk: Decimal("3.00")}


def test_it_filters_without_javascript(browser):
    likes, followers = CategoryFactory.create(name="Likes"), CategoryFactory.create(name="Followers")
    provider = ProviderFactory.create()
    quick = ServiceFactory.create(name="Quick likes", category=likes, provider=provider)
    slow = ServiceFactory.create(name="Slow likes", category=likes, provider=provider, refill=True)
    real = ServiceFactory.create(name="Real followers", category=followers, provider=provider, cancel=True)
    assert _rates(_page(browser, q="QUICK")).keys() == {quick.pk}
    assert _rates(_page(browser, q=str(real.pk))).keys() == {real.pk}
    assert _rates(_page(browser, category=str(likes.pk))).keys() == {quick.pk, slow.pk}
    assert _rates(_page(browser, refill="1")).keys() == {slow.pk}
    assert _rates(_page(browser, cancel="1", category=str(likes.pk))).keys() == set()
    assert _rates(_page(browser, category="nonsense")).keys() == {quick.pk, slow.pk, real.pk}
    page = _page(browser, q="nothing like it")
    assert "No services match." in page and "Show all services" in page


def test_it_says_when_nothing_is_for_sale(browser):
    assert "No services are on sale right now." in _page(browser)


def test_it_reads_the_catalog_in_the_same_number_of_queries_for_1_or_40_services(browser):
    def queries() -> int:
        catalog_changed()
        with CaptureQueriesContext(connection) as captured:
            _page(browser)
        return len(captured)

    provider = ProviderFactory.create()
    ServiceFactory.create(provider=provider)
    one = queries()
    for _ in range(39):
        ServiceFactory.create(provider=provider)
    assert len(_rates(_page(browser))) == 1  # still the cached catalog
    assert queries() == one
    assert len(_rates(_page(browser))) == 40


def test_it_lists_a_type_we_cannot_order_yet_without_an_order_button(browser):
    orderable = ServiceFactory.create(name="Likes")
    subscription = ServiceFactory.create(name="Auto likes", type="Subscriptions")
    page = _page(browser)
    assert f'href="/orders/new/?service={orderable.pk}"' in page
    assert "Auto likes" in page and f"?service={subscription.pk}" not in page
