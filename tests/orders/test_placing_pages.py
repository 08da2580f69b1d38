"""The New order and Mass order pages: the same checks and prices as the API, errors next to their field, and
no money moved unless an order is placed — once, however often the form is sent."""

import re
from decimal import Decimal

import pytest
from django.test import Client

from billing.models import LedgerEntry, Wallet
from catalog.models import Service
from catalog.selectors import catalog_changed
from orders.models import Order
from tests.factories import ServiceFactory

pytestmark = pytest.mark.django_db

LINK = "https://instagram.com/p/abc"
KEY = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def shop(client, alice, services):
    catalog_changed()
    client.force_login(alice)
    return client


def _balance(user) -> Decimal:
    return Wallet.objects.get(user=user).balance


def _order(client, service, **params):
    return client.post("/orders/new/", {"service": service.pk, "order_key": KEY, **params}, follow=True)


def test_it_offers_every_service_at_the_customers_rate_and_preselects_one(shop, alice, services):
    alice.discount_percent = Decimal(10)
    alice.save()
    response = shop.get(f"/orders/new/?service={services[1].pk}")
    assert response.status_code == 200
    assert response.context["service"]["name"] == "Instagramフォロワー"
    assert response.context["service"]["rate"] == "1.215"  # 1.35 less 10%
    assert (response.context["service"]["min"], response.context["service"]["max"]) == ("50", "10,000")
    assert "Real-looking followers" in response.content.decode()
    assert len(response.context["catalog"]) == 20  # the demo catalog less its Subscriptions service (not taken yet)


def test_the_home_page_is_new_order_for_a_customer(shop):
    assert shop.get("/").context["catalog"]


def test_it_places_an_order_and_shows_its_id_and_the_new_balance(shop, alice, services):
    response = _order(shop, services[1], link=LINK, quantity="1000")
    order = Order.objects.get(user=alice)
    assert f"Order {order.pk} is placed: 1.35 USD charged. Your balance is now 98.65 USD." in response.content.decode()
    assert (order.charge, order.link, order.quantity) == (Decimal("1.35000"), LINK, 1000)
    assert _balance(alice) == Decimal("98.65000")


def test_a_form_sent_twice_places_one_order_and_says_so(shop, alice, services):
    _order(shop, services[1], link=LINK, quantity="1000")
    again = _order(shop, services[1], link=LINK, quantity="1000")
    assert Order.objects.filter(user=alice).count() == 1 and _balance(alice) == Decimal("98.65000")
    order = Order.objects.get()
    assert f"Order {order.pk} was already placed with this form; nothing more was charged." in again.content.decode()


@pytest.mark.parametrize(
    ("upstream_id", "params", "field", "message"),
    [
        (1, {"link": "not a link", "quantity": "1000"}, "link", "Incorrect link"),
        (1, {"link": LINK, "quantity": "10"}, "quantity", "Quantity less than minimal 50"),
        (1, {"link": LINK, "quantity": "20000"}, "quantity", "Quantity more than maximum 10000"),
        (1, {"link": LINK, "quantity": "ten"}, "quantity", "Incorrect quantity"),
        (6, {"link": LINK, "comments": " "}, "comments", "Enter the comments, one per line."),
        (1, {"link": LINK, "quantity": "100", "dripfeed": "1", "runs": "3", "interval": "5"}, "runs",
         "Drip-feed is disabled for this service"),
        (2, {"link": LINK, "quantity": "100", "dripfeed": "1", "runs": "3"}, "interval",
         "Enter the interval between runs, in minutes."),
        (16, {"link": LINK, "quantity": "100", "answer_number": "two"}, "answer_number",
         "The answer number must be a whole number."),
    ],
)  # fmt: skip
def test_it_shows_each_error_next_to_its_field_and_charges_nothing(shop, alice, services, upstream_id, params, field,
                                                                   message):  # fmt: skip
    response = _order(shop, services[upstream_id], **params)
    assert response.status_code == 200 and response.context["errors"] == {field: message}
    assert f'id="id_{field}_error" >{message}' in response.content.decode()
    assert not Order.objects.exists() and _balance(alice) == Decimal(100)


def test_it_refuses_an_unknown_or_inactive_service(shop, alice, services):
    services[1].is_active = False
    services[1].save()
    catalog_changed()
    response = shop.post("/orders/new/", {"service": services[1].pk, "link": LINK, "quantity": "100"})
    assert response.context["errors"] == {"service": "Incorrect service ID"}
    assert all(row["id"] != services[1].pk for row in response.context["catalog"])
    assert shop.post("/orders/new/", {"service": "99999"}).context["errors"] == {"service": "Incorrect service ID"}
    assert not Order.objects.exists()


def test_it_says_when_the_balance_is_short_and_charges_nothing(shop, alice, services):
    response = _order(shop, services[4], link=LINK, quantity="100000")  # 375.00
    assert response.context["general_error"] == "Not enough funds on balance"
    assert not Order.objects.exists() and _balance(alice) == Decimal(100)


def test_it_shows_the_errors_in_japanese_on_japanese_pages(shop, alice, services, settings):
    settings.LANGUAGE_CODE = "en"
    alice.language = "ja"
    alice.save()
    response = _order(shop, services[1], link=LINK, quantity="10")
    assert response.context["errors"]["quantity"] != "Quantity less than minimal 50"
    assert "50" in response.context["errors"]["quantity"]


def test_the_live_price_is_what_the_order_will_cost(shop, alice, services):
    quote = shop.get("/orders/quote/", {"service": services[1].pk, "quantity": "1000"}).json()
    assert quote == {"ok": True, "charge": "1.35 USD", "quantity": 1000, "affordable": True}
    drip = shop.get("/orders/quote/", {"service": services[2].pk, "quantity": "100", "dripfeed": "1", "runs": "3",
                                       "interval": "5"}).json()  # fmt: skip
    assert (drip["charge"], drip["quantity"]) == ("0.1125 USD", 300)
    comments = shop.get("/orders/quote/", {"service": services[6].pk, "comments": "a\nb\n\nc\nd\ne"}).json()
    assert (comments["charge"], comments["quantity"]) == ("0.09 USD", 5)
    dear = shop.get("/orders/quote/", {"service": services[4].pk, "quantity": "100000"}).json()
    assert dear["affordable"] is False


def test_the_live_price_explains_what_is_wrong(shop, services):
    low = shop.get("/orders/quote/", {"service": services[1].pk, "quantity": "1"}).json()
    assert low == {"ok": False, "error": "Quantity less than minimal 50", "field": "quantity"}
    assert shop.get("/orders/quote/", {"service": "x"}).json()["error"] == "Incorrect service ID"
    assert shop.post("/orders/quote/").status_code == 405


def test_service_names_and_descriptions_are_escaped(shop, alice, services):
    ServiceFactory.create(name="<script>alert(1)</script>", description="<img src=x onerror=alert(1)>")
    catalog_changed()
    page = shop.get("/orders/new/").content.decode()
    assert "<script>alert(1)</script>" not in page and "<img src=x" not in page
    assert "\\u003Cscript\\u003E" in page  # the catalog data for the script is JSON-escaped too


def _mass(client, text, step="check", batch=KEY):
    return client.post("/orders/mass/", {"orders": text, "step": step, "batch": batch})


def test_mass_order_checks_every_line_first_and_moves_nothing(shop, alice, services):
    text = f"{services[1].pk} | {LINK} | 1000\n\n{services[1].pk} | {LINK} | 1\nnonsense\n999999 | {LINK} | 100"
    response = _mass(shop, text)
    lines = response.context["lines"]
    assert [(line.number, line.error) for line in lines] == [
        (1, ""),
        (3, "Quantity less than minimal 50"),
        (4, "Write the line as: service ID | link | quantity"),
        (5, "Incorrect service ID"),
    ]
    assert response.context["total"] == Decimal("1.35000") and response.context["valid_count"] == 1
    assert not Order.objects.exists() and _balance(alice) == Decimal(100)


def test_mass_order_places_the_valid_lines_once_even_if_sent_twice(shop, alice, services):
    text = f"{services[1].pk} | {LINK} | 1000\n{services[1].pk} | bad link | 1000\n{services[4].pk} | {LINK} | 1000"
    first = _mass(shop, text, step="place")
    second = _mass(shop, text, step="place")
    orders = list(Order.objects.filter(user=alice).order_by("pk"))
    assert [(o.service_id, o.quantity) for o in orders] == [(services[1].pk, 1000), (services[4].pk, 1000)]
    for response in (first, second):
        outcome = [(line.number, line.order.pk if line.order else line.error) for line in response.context["lines"]]
        assert outcome == [(1, orders[0].pk), (2, "Incorrect link"), (3, orders[1].pk)]
    assert (first.context["new_count"], first.context["total"]) == (2, Decimal("5.10000"))
    assert (second.context["new_count"], second.context["repeat_count"], second.context["total"]) == (0, 2, 0)
    assert "2 orders were already placed by an earlier sending" in second.content.decode()
    assert _balance(alice) == Decimal("100") - Decimal("1.35") - Decimal("3.75")
    assert LedgerEntry.objects.filter(kind="charge").count() == 2


def test_mass_order_reports_lines_past_the_balance(shop, alice, services):
    text = f"{services[4].pk} | {LINK} | 20000\n{services[4].pk} | {LINK} | 20000"  # 75.00 each
    checked = _mass(shop, text)
    assert checked.context["short"] is True
    placed = _mass(shop, text, step="place")
    assert [line.error for line in placed.context["lines"]] == ["", "Not enough funds on balance"]
    assert _balance(alice) == Decimal(25)


def test_mass_order_refuses_an_empty_list_too_many_lines_or_no_check(shop, services):
    assert _mass(shop, "  \n").context["general_error"] == "Enter at least one order, one per line."
    many = "\n".join(f"{services[1].pk} | {LINK}{n} | 100" for n in range(501))
    assert _mass(shop, many).context["general_error"] == "At most 500 orders at once."
    unchecked = _mass(shop, f"{services[1].pk} | {LINK} | 100", step="place", batch="")
    assert unchecked.context["general_error"] == "Check the orders first, then place them."
    assert not Order.objects.exists()


def test_placing_needs_the_csrf_token(alice, services):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.post("/orders/new/", {"service": services[1].pk, "link": LINK, "quantity": "100"}).status_code == 403
    assert client.post("/orders/mass/", {"orders": f"{services[1].pk} | {LINK} | 100", "step": "place",
                                         "batch": KEY}).status_code == 403  # fmt: skip
    assert not Order.objects.exists()


def test_the_pages_cost_the_same_queries_for_any_catalog_size(shop, services, django_assert_max_num_queries):
    shop.get("/orders/new/")
    for _ in range(30):
        ServiceFactory.create()
    catalog_changed()
    shop.get("/orders/new/")  # fills the cache once
    with django_assert_max_num_queries(6):
        assert shop.get("/orders/new/").status_code == 200


def test_bob_places_with_his_own_money_only(client, alice, bob, services):
    client.force_login(bob)
    response = _order(client, services[1], link=LINK, quantity="1000")
    assert response.context["general_error"] == "Not enough funds on balance"
    assert _balance(alice) == Decimal(100)


def test_a_nul_byte_is_refused_with_a_message_not_a_crash(shop, alice, services):
    link = _order(shop, services[1], link="https://a.com/\x00x", quantity="100")
    assert link.context["errors"] == {"link": "Incorrect link"}
    comments = _order(shop, services[6], link=LINK, comments="fine\nbad\x00")
    assert comments.context["errors"]["comments"].startswith("The text contains a character")
    mass = _mass(shop, f"{services[1].pk} | https://a.com/\x00x | 100\n{services[1].pk} | {LINK} | 100", step="place")
    assert [line.error for line in mass.context["lines"]] == ["Incorrect link", ""]
    assert shop.get("/orders/", {"q": "a\x00b"}).status_code == 200
    assert Order.objects.count() == 1


def test_it_marks_the_chosen_service_for_browsers_without_the_script(shop, services):
    page = shop.get(f"/orders/new/?service={services[4].pk}").content.decode()
    (chosen,) = re.findall(r'<option value="(\d+)" data-category="[^"]*" selected>', page)
    assert chosen == str(services[4].pk)


def test_the_new_order_page_shows_a_price_change_at_once(shop, services):
    assert shop.get(f"/orders/new/?service={services[1].pk}").context["service"]["rate"] == "1.35"
    Service.objects.filter(pk=services[1].pk).update(rate=Decimal("2.5"))
    catalog_changed()  # what every catalog write calls once it commits
    assert shop.get(f"/orders/new/?service={services[1].pk}").context["service"]["rate"] == "2.50"
