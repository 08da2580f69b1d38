"""The Orders and Refills pages, and the Refill and Cancel buttons on each order."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from billing.models import Wallet
from orders.models import CancelRequest, Order, Refill
from orders.services.placement import order_place
from tests.factories import CancelRequestFactory, OrderFactory, RefillFactory, ServiceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(client, alice):
    client.force_login(alice)
    return client


@pytest.fixture
def refillable(alice):
    """A completed order of a refill service, delivered an hour ago."""
    service = ServiceFactory.create(name="Followers with refill", refill=True)
    return OrderFactory.create(
        user=alice,
        service=service,
        status=Order.Status.COMPLETED,
        submission=Order.Submission.SENT,
        upstream_id=9001,
        completed_at=timezone.now() - timedelta(hours=1),
    )


@pytest.fixture
def queued(alice):
    """An order placed (and paid) that has not been sent upstream yet."""
    service = ServiceFactory.create(name="Likes")
    return order_place(user=alice, service_id=service.pk, params={"link": "https://x.com/p/1", "quantity": "1000"})


def _order_ids(response) -> list[int]:
    return [row.order.pk for row in response.context["rows"]]


def _fetch(client: Client, url: str, **data):
    return client.post(url, data, headers={"X-Requested-With": "fetch"})


def test_it_sends_visitors_to_sign_in(client):
    for url in ("/orders/", "/refills/"):
        assert client.get(url)["Location"] == f"/accounts/login/?next={url}"
    # Signed out while the page was open: after signing in, back to the orders (an action is never a GET).
    for url in ("/orders/1/refill/", "/orders/1/cancel/"):
        assert client.post(url, headers={"X-Requested-With": "fetch"})["Location"] == "/accounts/login/?next=/orders/"


def test_it_lists_only_the_customers_orders_newest_first(browser, alice, bob):
    first, second = OrderFactory.create(user=alice), OrderFactory.create(user=alice)
    OrderFactory.create(user=bob)
    response = browser.get("/orders/")
    assert _order_ids(response) == [second.pk, first.pk]
    assert second.service.name in response.content.decode()


def test_it_filters_by_status_tab(browser, alice):
    pending = OrderFactory.create(user=alice)
    progress = OrderFactory.create(user=alice, status=Order.Status.IN_PROGRESS)
    done = OrderFactory.create(user=alice, status=Order.Status.COMPLETED)
    assert _order_ids(browser.get("/orders/", {"status": "In progress"})) == [progress.pk]
    assert _order_ids(browser.get("/orders/", {"status": "Completed"})) == [done.pk]
    assert _order_ids(browser.get("/orders/", {"status": "Pending"})) == [pending.pk]
    assert _order_ids(browser.get("/orders/", {"status": "nonsense"})) == [done.pk, progress.pk, pending.pk]
    page = browser.get("/orders/", {"status": "In progress"}).content.decode()
    assert 'href="?status=In+progress" aria-current="page"' in page


def test_it_searches_by_id_and_by_link(browser, alice):
    cat = OrderFactory.create(user=alice, link="https://instagram.com/cats")
    dog = OrderFactory.create(user=alice, link="https://instagram.com/dogs")
    numbered = OrderFactory.create(user=alice, link=f"https://instagram.com/p/{cat.pk}77")
    assert _order_ids(browser.get("/orders/", {"q": "DOGS"})) == [dog.pk]
    assert _order_ids(browser.get("/orders/", {"q": f" {cat.pk} "})) == [numbered.pk, cat.pk]
    assert _order_ids(browser.get("/orders/", {"q": "instagram.com/p/"})) == [numbered.pk]
    page = browser.get("/orders/", {"q": "nothing-like-it"}).content.decode()
    assert "No orders match." in page


def test_it_paginates_keeping_the_tab_and_the_search(browser, alice):
    OrderFactory.create_batch(55, user=alice, status=Order.Status.COMPLETED, link="https://x.com/p/a")
    OrderFactory.create(user=alice, link="https://x.com/p/a")
    first = browser.get("/orders/", {"status": "Completed", "q": "x.com"})
    assert len(first.context["rows"]) == 50
    page = first.content.decode()
    assert "Page 1 of 2" in page and 'href="?status=Completed&amp;q=x.com&amp;page=2"' in page
    second = browser.get("/orders/", {"status": "Completed", "q": "x.com", "page": "2"})
    assert len(second.context["rows"]) == 5
    assert all(row.order.status == "Completed" for row in second.context["rows"])


def test_it_shows_links_as_text(browser, alice):
    OrderFactory.create(user=alice, link='https://x.com/"><script>alert(1)</script>')
    page = browser.get("/orders/").content.decode()
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_it_shows_dates_in_the_customers_time_zone(browser, alice):
    alice.time_zone = "Asia/Tokyo"
    alice.save()
    order = OrderFactory.create(user=alice)
    Order.objects.filter(pk=order.pk).update(created_at=datetime(2025, 1, 2, 15, 30, tzinfo=UTC))
    page = browser.get("/orders/").content.decode()
    assert 'datetime="2025-01-03T00:30:00+09:00"' in page and "01/03/2025" in page


def test_it_says_how_to_place_a_first_order(browser):
    page = browser.get("/orders/").content.decode()
    assert "No orders yet" in page and 'href="/orders/new/"' in page


def test_it_offers_refill_and_cancel_only_where_allowed(browser, alice, refillable, queued):
    late = OrderFactory.create(
        user=alice,
        service=refillable.service,
        status=Order.Status.COMPLETED,
        submission=Order.Submission.SENT,
        upstream_id=9002,
        completed_at=timezone.now() - timedelta(days=31),
    )
    no_cancel = OrderFactory.create(user=alice, submission=Order.Submission.SENT, upstream_id=9003)
    cancels = OrderFactory.create(
        user=alice, service=ServiceFactory.create(cancel=True), submission=Order.Submission.SENT, upstream_id=9004
    )
    page = browser.get("/orders/").content.decode()
    assert f'action="/orders/{refillable.pk}/refill/"' in page
    assert f'action="/orders/{queued.pk}/cancel/"' in page
    assert f'action="/orders/{cancels.pk}/cancel/"' in page
    for order in (late, no_cancel):
        assert f"/orders/{order.pk}/" not in page
    assert f'action="/orders/{queued.pk}/refill/"' not in page
    assert f'action="/orders/{refillable.pk}/cancel/"' not in page

    RefillFactory.create(order=refillable)
    CancelRequestFactory.create(order=cancels)
    page = browser.get("/orders/").content.decode()
    assert f"/orders/{refillable.pk}/refill/" not in page and f"/orders/{cancels.pk}/cancel/" not in page
    assert "Cancel requested" in page


def test_it_refills_from_the_page_inline(browser, refillable):
    response = _fetch(browser, f"/orders/{refillable.pk}/refill/")
    assert response.status_code == 200
    assert response.json() == {
        "ok": True,
        "message": f"Refill requested for order {refillable.pk}. Follow it on the Refills page.",
    }
    assert Refill.objects.get().order == refillable
    again = _fetch(browser, f"/orders/{refillable.pk}/refill/")
    assert again.json() == {"ok": False, "message": "Refill is disabled for this order"}
    assert Refill.objects.count() == 1


def test_it_refills_without_javascript_and_returns_to_the_same_view(browser, refillable):
    response = browser.post(
        f"/orders/{refillable.pk}/refill/", {"next": "/orders/?status=Completed&page=1"}, follow=True
    )
    assert response.redirect_chain == [("/orders/?status=Completed&page=1", 302)]
    assert f"Refill requested for order {refillable.pk}." in response.content.decode()
    assert Refill.objects.filter(order=refillable).exists()


def test_it_never_returns_to_another_site(browser, refillable):
    response = browser.post(f"/orders/{refillable.pk}/refill/", {"next": "https://evil.example/orders/"})
    assert response["Location"] == "/orders/"


def test_it_cancels_an_unsent_order_with_a_full_refund(browser, alice, queued):
    assert Wallet.objects.get(user=alice).balance == Decimal(100) - queued.charge
    response = _fetch(browser, f"/orders/{queued.pk}/cancel/")
    assert response.json() == {
        "ok": True,
        "message": f"Order {queued.pk} is canceled and its charge is back in your balance.",
    }
    queued.refresh_from_db()
    assert queued.status == Order.Status.CANCELED
    assert Wallet.objects.get(user=alice).balance == Decimal(100)


def test_it_asks_the_provider_to_cancel_a_sent_order_without_javascript(browser, alice):
    order = OrderFactory.create(
        user=alice, service=ServiceFactory.create(cancel=True), submission=Order.Submission.SENT, upstream_id=77
    )
    response = browser.post(f"/orders/{order.pk}/cancel/", {"next": "/orders/"}, follow=True)
    assert f"Cancel requested for order {order.pk}." in response.content.decode()
    assert CancelRequest.objects.get().order == order


def test_it_answers_a_refused_cancel_in_the_page(browser, refillable):
    response = browser.post(f"/orders/{refillable.pk}/cancel/", {"next": "/orders/"}, follow=True)
    assert "Cancel is disabled for this order" in response.content.decode()


def test_it_answers_another_customers_order_as_if_it_did_not_exist(client, alice, bob, refillable, queued):
    client.force_login(bob)
    missing = Order.objects.order_by("-pk").values_list("pk", flat=True).first() + 1000
    for action in ("refill", "cancel"):
        for order_id in (refillable.pk, queued.pk):
            foreign = _fetch(client, f"/orders/{order_id}/{action}/")
            absent = _fetch(client, f"/orders/{missing}/{action}/")
            assert (foreign.status_code, foreign.json()) == (absent.status_code, absent.json())
            assert foreign.json() == {"ok": False, "message": "Incorrect order ID"}
            plain = client.post(f"/orders/{order_id}/{action}/", {"next": "/orders/"}, follow=True)
            assert "Incorrect order ID" in plain.content.decode()
    assert not Refill.objects.exists() and not CancelRequest.objects.exists()
    queued.refresh_from_db()
    assert queued.status == Order.Status.PENDING
    assert Wallet.objects.get(user=alice).balance == Decimal(100) - queued.charge
    assert _order_ids(client.get("/orders/", {"q": str(queued.pk)})) == []


def test_it_requires_the_csrf_token(alice, refillable):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert _fetch(client, f"/orders/{refillable.pk}/refill/").status_code == 403
    assert not Refill.objects.exists()


def test_it_takes_actions_only_by_post(browser, refillable):
    assert browser.get(f"/orders/{refillable.pk}/refill/").status_code == 405
    assert browser.get(f"/orders/{refillable.pk}/cancel/").status_code == 405


def test_it_lists_the_customers_refills(browser, alice, bob, refillable):
    rejected = RefillFactory.create(order=refillable, status=Refill.Status.REJECTED)
    pending = RefillFactory.create(order=refillable, status=Refill.Status.SENT)
    other = OrderFactory.create(user=bob, status=Order.Status.COMPLETED)
    RefillFactory.create(order=other)
    response = browser.get("/refills/")
    rows = response.context["rows"]
    assert [(row.refill.pk, row.status_label) for row in rows] == [(pending.pk, "Pending"), (rejected.pk, "Rejected")]
    page = response.content.decode()
    assert refillable.service.name in page and 'class="badge status-Pending">Pending<' in page


def test_it_says_when_there_are_no_refills(browser):
    assert "No refills yet." in browser.get("/refills/").content.decode()


def _queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def _delivered(alice, count: int) -> None:
    """Orders of services with refill and cancel, each with a refill: every row shows everything it can."""
    for _ in range(count):
        order = OrderFactory.create(
            user=alice,
            service=ServiceFactory.create(refill=True, cancel=True),
            status=Order.Status.COMPLETED,
            submission=Order.Submission.SENT,
            upstream_id=Order.objects.count() + 1,
            completed_at=timezone.now(),
        )
        RefillFactory.create(order=order, status=Refill.Status.COMPLETED)


@pytest.mark.parametrize("url", ["/orders/", "/refills/"])
def test_it_reads_a_list_in_the_same_number_of_queries_for_1_or_40_rows(browser, alice, url):
    _delivered(alice, 1)
    one = _queries(browser, url)
    _delivered(alice, 39)
    assert len(browser.get(url).context["rows"]) == 40
    assert _queries(browser, url) == one


@pytest.mark.parametrize("back", ["undefined", "orders", "?page=2"])
def test_a_next_that_is_no_path_of_the_site_returns_to_the_orders_page(browser, refillable, back):
    # Found by the fuzz (tests/fuzz/test_web_forms.py): "undefined" was looked up as a view's name, a 500.
    response = browser.post(f"/orders/{refillable.pk}/refill/", {"next": back})
    assert (response.status_code, response["Location"]) == (302, "/orders/")
    assert Refill.objects.filter(order=refillable).exists()
