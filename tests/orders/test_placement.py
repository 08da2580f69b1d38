"""Placing an order: validation by service type with the protocol's exact messages, price, debit, and no money
moved when anything is wrong."""

from decimal import Decimal

import pytest

from billing.models import LedgerEntry, Wallet
from billing.services import ledger_mismatches, wallet_credit
from catalog.models import Service
from orders.models import Order
from orders.services.placement import order_place
from orders.validation import OrderError
from panel.errors import ApplicationError
from tests.concurrency import run_together

pytestmark = pytest.mark.django_db

LINK = "https://instagram.com/p/abc"


def _balance(user) -> Decimal:
    return Wallet.objects.get(user=user).balance


def test_it_debits_the_charge_and_creates_a_queued_order(alice, services, django_capture_on_commit_callbacks):
    followers = services[1]  # 0.90 upstream, 1.35 ours
    with django_capture_on_commit_callbacks() as callbacks:
        order = order_place(user=alice, service_id=followers.pk, params={"link": LINK, "quantity": "1000"})
    assert (order.status, order.submission) == ("Pending", "queued")
    assert (order.rate, order.charge, order.cost) == (Decimal("1.350000"), Decimal("1.35000"), Decimal("0.90000"))
    assert _balance(alice) == Decimal("98.65000")
    charge = LedgerEntry.objects.get(order=order)
    assert (charge.kind, charge.amount) == ("charge", Decimal("-1.35000"))
    assert len(callbacks) == 1, "forwarding is enqueued once, after commit"


def test_it_rounds_the_charge_up_and_applies_the_discount_but_never_below_cost(alice, services):
    views = services[3]  # 0.0125 upstream, 0.01875 ours
    order = order_place(user=alice, service_id=views.pk, params={"link": LINK, "quantity": "101"})
    assert order.charge == Decimal("0.00190")  # 0.00189375 rounded up
    alice.discount_percent = Decimal(20)
    assert order_place(user=alice, service_id=views.pk, params={"link": LINK, "quantity": "1000"}).rate == Decimal(
        "0.015000"
    )
    alice.discount_percent = Decimal(90)
    assert order_place(user=alice, service_id=views.pk, params={"link": LINK, "quantity": "1000"}).rate == Decimal(
        "0.012500"
    )


@pytest.mark.parametrize(
    ("upstream_id", "params", "quantity", "charge"),
    [
        (5, {"link": LINK}, 1, "2.25000"),  # package: the rate, not per 1000
        (6, {"link": LINK, "comments": "nice\r\n\r\ngreat\nwow\n \nsuper\nlove"}, 5, "0.09000"),
        (7, {"link": LINK, "comments": "one\ntwo"}, 1, "7.48500"),
        (10, {"link": LINK, "usernames": "\n".join(f"user{i}" for i in range(12))}, 12, "0.09000"),
        (8, {"link": LINK, "quantity": "100", "usernames": "a\nb"}, 100, "0.48000"),
        (15, {"link": LINK, "username": "bob", "comments": "hi\nthere"}, 2, "0.04500"),
        (16, {"link": LINK, "quantity": "100", "answer_number": "2"}, 100, "0.09000"),
        (2, {"link": LINK, "quantity": "100", "runs": "3", "interval": "30"}, 300, "0.11250"),
        (2, {"link": LINK, "quantity": "100", "runs": "undefined", "interval": ""}, 100, "0.03750"),
        (18, {"link": LINK, "quantity": "1000", "type_of_traffic": "1", "google_keyword": "smm"}, 1000, "0.52500"),
    ],
)
def test_it_takes_each_service_type_as_the_protocol_defines_it(alice, services, upstream_id, params, quantity, charge):
    order = order_place(user=alice, service_id=services[upstream_id].pk, params=params)
    assert (order.quantity, order.charge) == (quantity, Decimal(charge))


@pytest.mark.parametrize(
    ("upstream_id", "params", "message"),
    [
        (1, {"link": "", "quantity": "100"}, "Incorrect link"),
        (1, {"link": "not a link", "quantity": "100"}, "Incorrect link"),
        (1, {"link": "ftp://x.com/a", "quantity": "100"}, "Incorrect link"),
        (1, {"link": "https://localhost/", "quantity": "100"}, "Incorrect link"),
        (1, {"link": LINK, "quantity": "49"}, "Quantity less than minimal 50"),
        (1, {"link": LINK, "quantity": "10001"}, "Quantity more than maximum 10000"),
        (1, {"link": LINK, "quantity": "abc"}, "Incorrect quantity"),
        (1, {"link": LINK, "quantity": "-5"}, "Incorrect quantity"),
        (1, {"link": LINK, "quantity": "100", "runs": "2", "interval": "10"}, "Drip-feed is disabled for this service"),
        (2, {"link": LINK, "quantity": "5", "runs": "10", "interval": "10"}, "Quantity less than minimal 10"),
        (2, {"link": LINK, "quantity": "100", "runs": "2"}, "Enter the interval between runs, in minutes."),
        (6, {"link": LINK, "comments": "a\nb"}, "Quantity less than minimal 5"),
        (6, {"link": LINK, "comments": " \n "}, "Enter the comments, one per line."),
        (8, {"link": LINK, "quantity": "100"}, "Enter the usernames, one per line."),
        (18, {"link": LINK, "quantity": "1000", "device": "9"}, "The device must be 1 to 5."),
        (19, {"username": "bob", "min": "50", "max": "100"}, "Subscriptions services are not supported yet"),
    ],
)
def test_it_refuses_bad_orders_with_the_exact_message_and_moves_no_money(alice, services, upstream_id, params, message):
    with pytest.raises(OrderError) as caught:
        order_place(user=alice, service_id=services[upstream_id].pk, params=params)
    assert caught.value.message.startswith(message)
    assert _balance(alice) == Decimal(100) and not Order.objects.exists()


@pytest.mark.parametrize("service_id", ["999999", "abc", ""])
def test_it_refuses_an_unknown_service(alice, services, service_id):
    with pytest.raises(OrderError, match="Incorrect service ID"):
        order_place(user=alice, service_id=service_id, params={"link": LINK, "quantity": "100"})


def test_it_refuses_a_disabled_service_or_provider(alice, services):
    followers = services[1]
    Service.objects.filter(pk=followers.pk).update(is_active=False)
    with pytest.raises(OrderError, match="Incorrect service ID"):
        order_place(user=alice, service_id=followers.pk, params={"link": LINK, "quantity": "100"})
    followers.provider.is_active = False
    followers.provider.save()
    with pytest.raises(OrderError, match="Incorrect service ID"):
        order_place(user=alice, service_id=services[4].pk, params={"link": LINK, "quantity": "500"})


def test_it_refuses_an_order_the_balance_does_not_cover(services, bob):
    wallet_credit(user=bob, amount=Decimal("1.34999"))
    with pytest.raises(ApplicationError, match="Not enough funds on balance"):
        order_place(user=bob, service_id=services[1].pk, params={"link": LINK, "quantity": "1000"})
    assert _balance(bob) == Decimal("1.34999") and not Order.objects.exists()


def test_it_refuses_a_second_active_order_for_the_same_link_where_the_service_says_so(alice, services):
    followers = services[1]
    followers.deny_duplicates = True
    followers.save()
    order_place(user=alice, service_id=followers.pk, params={"link": LINK, "quantity": "100"})
    with pytest.raises(OrderError, match="You have active order with this link"):
        order_place(user=alice, service_id=followers.pk, params={"link": LINK, "quantity": "100"})
    order_place(user=alice, service_id=followers.pk, params={"link": LINK + "2", "quantity": "100"})
    Order.objects.update(status="Completed")
    order_place(user=alice, service_id=followers.pk, params={"link": LINK, "quantity": "100"})


@pytest.mark.django_db(transaction=True)
def test_concurrent_orders_take_exactly_what_the_balance_covers(services, charlie):
    wallet_credit(user=charlie, amount=Decimal("9.45000"))  # 7 orders of 1.35000

    def place() -> str:
        try:
            order_place(user=charlie, service_id=services[1].pk, params={"link": LINK, "quantity": "1000"})
            return "placed"
        except ApplicationError as exc:
            return exc.message

    outcomes = run_together(place, 24)
    assert outcomes.count("placed") == 7
    assert outcomes.count("Not enough funds on balance") == 17
    assert _balance(charlie) == 0 and Order.objects.filter(user=charlie).count() == 7
    assert LedgerEntry.objects.filter(kind="charge").count() == 7
    assert list(ledger_mismatches()) == []


@pytest.mark.parametrize(
    ("upstream_id", "params", "message"),
    [
        (2, {"link": LINK, "quantity": "100", "runs": "999999999999", "interval": "5"}, "At most 1000 runs"),
        (2, {"link": LINK, "quantity": "100", "runs": "2", "interval": "999999999"}, "At most 1000 runs"),
        (16, {"link": LINK, "quantity": "100", "answer_number": "two"}, "The answer number must be a whole number."),
    ],
)
def test_it_refuses_numbers_out_of_range_without_a_server_error(alice, services, upstream_id, params, message):
    with pytest.raises(OrderError, match=message):
        order_place(user=alice, service_id=services[upstream_id].pk, params=params)
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    ("upstream_id", "params", "message"),
    [
        (1, {"link": LINK, "quantity": "１００"}, "Incorrect quantity"),
        (1, {"link": LINK, "quantity": "١٠٠"}, "Incorrect quantity"),
        (1, {"link": LINK, "quantity": "100", "runs": "２", "interval": "10"}, "Write the number of runs"),
        (2, {"link": LINK, "quantity": "100", "runs": "٢", "interval": "10"}, "Write the number of runs"),
        (2, {"link": LINK, "quantity": "100", "runs": "2", "interval": "１０"}, "Enter the interval between runs"),
        (16, {"link": LINK, "quantity": "100", "answer_number": "２"}, "The answer number must be a whole number."),
        (18, {"link": LINK, "quantity": "1000", "device": "２"}, "The device must be 1 to 5."),
        (18, {"link": LINK, "quantity": "1000", "type_of_traffic": "３"}, "The type of traffic must be"),
    ],
)  # fmt: skip
def test_it_takes_only_ascii_digits_for_numbers(alice, services, upstream_id, params, message):
    with pytest.raises(OrderError) as caught:
        order_place(user=alice, service_id=services[upstream_id].pk, params=params)
    assert caught.value.message.startswith(message)
    assert _balance(alice) == Decimal(100) and not Order.objects.exists()
