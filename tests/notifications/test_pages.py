"""The notifications page, the header's unread count and the account page's email choices, each customer seeing
and changing only their own."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from notifications.models import Notification, NotificationPreferences
from notifications.views import PER_PAGE
from tests.factories import NotificationFactory, OrderFactory, RefillFactory

pytestmark = pytest.mark.django_db


def _notify(user, status: str = "Completed", refund: str = "0", refill: bool = False) -> Notification:
    order = OrderFactory.create(user=user, completed=True)
    if refill:
        return NotificationFactory.create(order=order, kind="refill_ended", status=status,
                                          refill=RefillFactory.create(order=order, status=status))  # fmt: skip
    return NotificationFactory.create(order=order, status=status, refund=refund)


def _badge(html: str) -> str | None:
    start = html.find('<span class="count">')
    if start < 0:
        return None
    return html[start + len('<span class="count">') :].split("<", 1)[0]


@pytest.fixture
def customer(client, alice):
    client.force_login(alice)
    return client


def test_it_lists_the_customers_notifications_newest_first_with_the_unread_marked(customer, alice):
    completed = _notify(alice)
    partial = _notify(alice, "Partial", refund="0.54")
    canceled = _notify(alice, "Canceled", refund="1.35")
    refill = _notify(alice, "Rejected", refill=True)
    Notification.objects.filter(pk=completed.pk).update(read_at=completed.created_at)
    response = customer.get("/notifications/")
    assert [row.notification.pk for row in response.context["rows"]] == [refill.pk, canceled.pk, partial.pk,
                                                                         completed.pk]  # fmt: skip
    assert [row.headline for row in response.context["rows"]] == [
        f"The refill of order {refill.order_id} was rejected.",
        f"Order {canceled.order_id} is canceled: 1.35 USD is back in your balance.",
        f"Order {partial.order_id} was partly delivered: 0.54 USD for the rest is back in your balance.",
        f"Order {completed.order_id} is completed.",
    ]
    html = response.content.decode()
    assert html.count('class="unread"') == 3 and html.count('<span class="badge new">New</span>') == 3
    assert f'<tr data-notification="{completed.pk}">' in html
    assert f'href="/orders/?q={canceled.order_id}"' in html and 'href="/refills/"' in html
    assert _badge(html) == "3"


def test_the_header_counts_the_unread_in_one_query_and_shows_no_badge_at_zero(customer, alice):
    html = customer.get("/refills/").content.decode()
    assert _badge(html) is None and 'href="/notifications/"' in html and "Notifications" in html
    for _ in range(2):
        _notify(alice)
    with CaptureQueriesContext(connection) as queries:
        html = customer.get("/refills/").content.decode()
    assert _badge(html) == "2"
    assert len([q for q in queries if "notifications_notification" in q["sql"]]) == 1


def test_the_header_stops_counting_past_99(customer, alice):
    order = OrderFactory.create(user=alice, completed=True)
    Notification.objects.bulk_create(
        [Notification(user=alice, kind="refill_ended", order=order, refill=RefillFactory.create(order=order,
                      status="Completed"), status="Completed") for _ in range(100)]
    )  # fmt: skip
    assert _badge(customer.get("/orders/").content.decode()) == "99+"


def test_mark_all_as_read_marks_what_the_page_showed_and_not_what_came_after(customer, alice):
    shown = [_notify(alice) for _ in range(3)]
    page = customer.get("/notifications/")
    assert page.context["newest"] == shown[-1].pk
    later = _notify(alice)
    response = customer.post("/notifications/read/", {"up_to": page.context["newest"]}, follow=True)
    assert response.redirect_chain == [("/notifications/", 302)]
    assert "Your notifications are marked as read." in response.content.decode()
    assert set(Notification.objects.filter(read_at__isnull=True).values_list("pk", flat=True)) == {later.pk}
    assert _badge(response.content.decode()) == "1"


def test_opening_the_page_leaves_notifications_unread(customer, alice):
    _notify(alice)
    customer.get("/notifications/")
    customer.get("/notifications/?page=2")
    assert Notification.objects.filter(read_at__isnull=True).count() == 1


@pytest.mark.parametrize("up_to", ["", "abc", "-1", "1.5", "9" * 30])
def test_it_rejects_a_malformed_mark_as_read_and_changes_nothing(customer, alice, up_to):
    _notify(alice)
    response = customer.post("/notifications/read/", {"up_to": up_to}, follow=True)
    assert response.status_code == 200
    assert "Nothing was marked as read: reload the page and try again." in response.content.decode()
    assert Notification.objects.filter(read_at__isnull=True).count() == 1


def test_mark_as_read_is_a_post_and_needs_a_session(client, customer, alice):
    _notify(alice)
    assert customer.get("/notifications/read/").status_code == 405
    Client().post("/notifications/read/", {"up_to": "999"})
    assert Client().get("/notifications/")["Location"].startswith("/accounts/login/")
    assert Notification.objects.filter(read_at__isnull=True).count() == 1


def test_bob_sees_and_marks_none_of_alices_notifications(client, alice, bob):
    mine = _notify(alice)
    client.force_login(bob)
    response = client.get("/notifications/")
    assert response.context["rows"] == [] and str(mine.order_id) not in response.content.decode()
    assert "No notifications yet." in response.content.decode() and _badge(response.content.decode()) is None
    client.post("/notifications/read/", {"up_to": mine.pk})
    assert Notification.objects.get(pk=mine.pk).read_at is None


def test_it_pages_like_the_other_lists(customer, alice):
    order = OrderFactory.create(user=alice, completed=True)
    refills = [RefillFactory.create(order=order, status="Completed") for _ in range(PER_PAGE + 1)]
    Notification.objects.bulk_create(
        [Notification(user=alice, kind="refill_ended", order=order, refill=r, status="Completed") for r in refills]
    )
    first, second = customer.get("/notifications/"), customer.get("/notifications/?page=2")
    assert len(first.context["rows"]) == PER_PAGE and len(second.context["rows"]) == 1
    assert 'rel="next"' in first.content.decode() and 'rel="prev"' in second.content.decode()
    assert second.context["newest"] == first.context["rows"][0].notification.pk


def test_the_account_page_shows_the_defaults_and_saves_the_choices(customer, alice):
    form = customer.get("/account/").context["emails"]
    assert form.initial == {"email_web_orders": True, "email_api_orders": False, "email_web_refills": True,
                            "email_api_refills": False}  # fmt: skip
    assert not NotificationPreferences.objects.exists()  # made when first saved
    response = customer.post(
        "/account/", {"form": "notifications", "email_api_orders": "on", "email_web_refills": "on"}, follow=True
    )
    assert "Your email choices are saved." in response.content.decode()
    saved = NotificationPreferences.objects.get(user=alice)
    assert (saved.email_web_orders, saved.email_api_orders, saved.email_web_refills, saved.email_api_refills) == (
        False, True, True, False
    )  # fmt: skip
    assert customer.get("/account/").context["emails"].initial["email_api_orders"] is True


def test_the_choices_need_the_forms_csrf_token_and_are_the_customers_own(alice, bob):
    guarded = Client(enforce_csrf_checks=True)
    guarded.force_login(alice)
    assert guarded.post("/account/", {"form": "notifications", "email_api_orders": "on"}).status_code == 403
    assert not NotificationPreferences.objects.exists()
    bobs = Client()
    bobs.force_login(bob)
    bobs.post("/account/", {"form": "notifications"})
    assert NotificationPreferences.objects.get().user == bob
    assert guarded.get("/account/").context["emails"].initial["email_web_orders"] is True


def test_refunds_show_in_the_readers_money_format(customer, alice):
    _notify(alice, "Partial", refund=str(Decimal("1234.5")))
    assert "1,234.50 USD" in customer.get("/notifications/").content.decode()
