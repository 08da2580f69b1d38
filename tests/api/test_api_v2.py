"""Our /api/v2 spoken to the way real clients speak it: every action, every encoding, every error string."""

import json
import logging
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.services import api_key_issue
from billing.models import LedgerEntry, Wallet
from orders.models import Order
from orders.services.forwarding import order_forward

pytestmark = pytest.mark.django_db

URL = "/api/v2"
LINK = "https://instagram.com/p/abc"


@pytest.fixture
def key(alice, services):
    return api_key_issue(user=alice)


def call(client, key: str | None, **params):
    data = {"key": key, **params} if key is not None else params
    response = client.post(URL, data)
    assert response.status_code == 200 and response["Content-Type"].startswith("application/json")
    return response.json()


def _balance(user) -> Decimal:
    return Wallet.objects.get(user=user).balance


def test_it_answers_balance(client, key):
    assert call(client, key, action="balance") == {"balance": "100.00000", "currency": "USD"}


def test_it_lists_services_at_the_callers_own_rates_and_nothing_about_the_provider(client, key, alice, services):
    listed = call(client, key, action="services")
    followers = next(s for s in listed if s["service"] == services[1].pk)
    assert followers == {
        "service": services[1].pk, "name": "Instagramフォロワー", "type": "Default", "category": "📸 Instagram",
        "rate": "1.35", "min": "50", "max": "10000", "refill": True, "cancel": True, "dripfeed": False,
        "desc": followers["desc"],
    }  # fmt: skip
    assert len(listed) == len(services) and all(isinstance(s["rate"], str) for s in listed)
    alice.discount_percent = Decimal(10)
    alice.save()
    assert next(s for s in call(client, key, action="services") if s["service"] == services[1].pk)["rate"] == "1.215"
    raw = client.post(URL, {"key": key, "action": "services"}).content.decode()
    assert "Instagramフォロワー" in raw, "Unicode is sent as is"
    assert "Sim" not in raw and "127.0.0.1" not in raw and "upstream" not in raw


def test_it_places_an_order_and_answers_its_status(client, key, alice, services, simulator):
    placed = call(client, key, action="add", service=str(services[1].pk), link=LINK, quantity="1000")
    order = Order.objects.get(pk=placed["order"])
    assert placed == {"order": order.pk} and order.user == alice and _balance(alice) == Decimal("98.65000")
    assert simulator.calls_for("add") == [], "no upstream I/O inside a request"
    assert call(client, key, action="status", order=str(order.pk)) == {
        "charge": "1.35000", "start_count": "0", "status": "Pending", "remains": "1000", "currency": "USD",
    }  # fmt: skip


@pytest.mark.parametrize("encoding", ["form", "multipart", "json", "get", "trailing-slash"])
def test_it_accepts_every_encoding_clients_use(client, key, services, encoding):
    params = {"key": key, "action": "add", "service": services[1].pk, "link": LINK, "quantity": 100, "extra": "x"}
    text = {k: str(v) for k, v in params.items()}
    if encoding == "form":  # PHP curl and Python requests: application/x-www-form-urlencoded
        response = client.post(URL, urlencode(text), content_type="application/x-www-form-urlencoded")
    elif encoding == "multipart":
        response = client.post(URL, text)
    elif encoding == "json":  # Node clients: a JSON body, numbers as numbers
        response = client.post(URL, json.dumps(params), content_type="application/json")
    elif encoding == "get":
        response = client.get(URL, text)
    else:
        response = client.post(URL + "/", urlencode(text), content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200 and "order" in response.json()


def test_it_takes_runs_undefined_as_no_drip_feed(client, key, services):
    placed = call(client, key, action="add", service=str(services[2].pk), link=LINK, quantity="100", runs="undefined")
    order = Order.objects.get(pk=placed["order"])
    assert order.runs is None and order.quantity == 100


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"action": "add", "service": "999999", "link": LINK, "quantity": "100"}, "Incorrect service ID"),
        ({"action": "add", "link": LINK, "quantity": "100"}, "Incorrect service ID"),
        ({"action": "add", "service": "S1", "link": "nope", "quantity": "100"}, "Incorrect link"),
        ({"action": "add", "service": "S1", "link": LINK, "quantity": "10"}, "Quantity less than minimal 50"),
        ({"action": "add", "service": "S1", "link": LINK, "quantity": "20000"}, "Quantity more than maximum 10000"),
        ({"action": "add", "service": "S1", "link": LINK, "quantity": "100000", "runs": "2", "interval": "5"},
         "Drip-feed is disabled for this service"),
        ({"action": "add", "service": "S4", "link": LINK, "quantity": "100000"}, "Not enough funds on balance"),
        ({"action": "teleport"}, "Incorrect request"),
        ({}, "Incorrect request"),
        ({"action": "status", "order": "424242"}, "Incorrect order ID"),
        ({"action": "status", "orders": ",".join(str(i) for i in range(101))}, "Too many ids"),
        ({"action": "refill", "order": "424242"}, "Incorrect order ID"),
        ({"action": "refill_status", "refill": "424242"}, "Refill not found"),
    ],
)  # fmt: skip
def test_it_answers_each_error_with_the_exact_string_and_moves_no_money(client, key, alice, services, params, message):
    params = {k: str(services[int(v[1:])].pk) if k == "service" and v.startswith("S") else v for k, v in params.items()}
    assert call(client, key, **params) == {"error": message}
    assert _balance(alice) == Decimal(100) and not Order.objects.exists()


@pytest.mark.parametrize("bad_key", [None, "", "nonsense", "0" * 60])
def test_it_refuses_a_missing_or_wrong_key(client, key, bad_key):
    assert call(client, bad_key, action="balance") == {"error": "Invalid API key"}


def test_a_new_key_revokes_the_old_and_a_deactivated_user_has_none(client, key, alice):
    fresh = api_key_issue(user=alice)
    assert call(client, key, action="balance") == {"error": "Invalid API key"}
    assert "balance" in call(client, fresh, action="balance")
    alice.is_active = False
    alice.save()
    assert call(client, fresh, action="balance") == {"error": "Invalid API key"}


def test_it_limits_the_rate_per_key(client, key, settings):
    settings.API_RATE_LIMIT, settings.API_RATE_WINDOW = 3, 10**6  # a window that cannot end during the test
    answers = [call(client, key, action="balance") for _ in range(4)]
    assert answers[:3] == [answers[0]] * 3 and answers[3] == {"error": "Too many requests"}


def test_it_refuses_an_address_that_sends_made_up_keys_before_looking_any_up(
    client, key, settings, django_assert_num_queries
):
    settings.API_FAILED_KEY_LIMIT, settings.API_RATE_WINDOW = 3, 10**6  # a window that cannot end during the test
    assert [call(client, f"made-up-{n}", action="balance") for n in range(3)] == [{"error": "Invalid API key"}] * 3
    with django_assert_num_queries(0):
        assert call(client, "made-up-3", action="balance") == {"error": "Too many requests"}
    assert call(client, key, action="balance") == {"error": "Too many requests"}, "even a valid key, from there"
    other = Client(REMOTE_ADDR="198.51.100.7")
    assert call(other, key, action="balance") == {"balance": "100.00000", "currency": "USD"}
    assert call(other, "made-up-4", action="balance") == {"error": "Invalid API key"}


def test_it_counts_made_up_keys_per_client_behind_the_trusted_proxy(client, key, settings):
    settings.API_FAILED_KEY_LIMIT, settings.API_RATE_WINDOW, settings.TRUSTED_PROXY_COUNT = 2, 10**6, 1
    proxy = Client(REMOTE_ADDR="10.0.0.2")
    for n in range(2):
        answer = proxy.post(
            URL, {"key": f"made-up-{n}", "action": "balance"}, HTTP_X_FORWARDED_FOR=f"forged-{n}, 1.1.1.1"
        )
        assert answer.json() == {"error": "Invalid API key"}
    refused = proxy.post(URL, {"key": key, "action": "balance"}, HTTP_X_FORWARDED_FOR="other, 1.1.1.1")
    assert refused.json() == {"error": "Too many requests"}
    served = proxy.post(URL, {"key": key, "action": "balance"}, HTTP_X_FORWARDED_FOR="1.1.1.1, 2.2.2.2")
    assert served.json() == {"balance": "100.00000", "currency": "USD"}


def _abusive(kind: str, key: str) -> dict[str, Any]:
    """A request as a client abusing the endpoint sends it, as keyword arguments of the test client's post."""
    fields = {"key": key, "action": "balance"}
    if kind in ("deep-array", "deep-object"):
        opening, closing = ("[", "]") if kind == "deep-array" else ('{"a":', "}")
        body = json.dumps(fields)[:-1] + ', "x": ' + opening * 100_000 + "1" + closing * 100_000 + "}"
        return {"data": body, "content_type": "application/json"}
    if kind == "large-form":
        return {
            "data": urlencode({**fields, "pad": "x" * 3_000_000}),
            "content_type": "application/x-www-form-urlencoded",
        }
    if kind == "large-json":
        return {"data": json.dumps({**fields, "pad": "x" * 3_000_000}), "content_type": "application/json"}
    many = {**fields, **{f"f{n}": "1" for n in range(1500)}}
    if kind == "many-fields":
        return {"data": urlencode(many), "content_type": "application/x-www-form-urlencoded"}
    if kind == "many-multipart-fields":
        return {"data": many}
    return {"path": URL + "?" + urlencode(many)}


@pytest.mark.parametrize(
    "kind",
    ["deep-array", "deep-object", "large-form", "large-json", "many-fields", "many-multipart-fields", "many-query"],
)
def test_it_refuses_abusive_bodies_as_an_incorrect_request_without_a_traceback(client, key, caplog, kind):
    caplog.set_level(logging.INFO)
    request = {"path": URL, **_abusive(kind, key)}
    response = client.post(**request)
    assert response.status_code == 200 and response.json() == {"error": "Incorrect request"}
    assert [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info] == [], caplog.text
    assert "Traceback" not in caplog.text


def test_it_answers_a_batch_status_per_id_and_hides_other_customers_orders(client, key, alice, bob, services):
    mine = [call(client, key, action="add", service=str(services[1].pk), link=LINK, quantity="100")["order"]
            for _ in range(2)]  # fmt: skip
    from billing.services import wallet_credit
    from orders.services.placement import order_place

    wallet_credit(user=bob, amount=Decimal(10))
    theirs = order_place(user=bob, service_id=services[1].pk, params={"link": LINK, "quantity": "100"}).pk
    answer = call(client, key, action="status", orders=f"{mine[0]},{theirs}, {mine[1]},abc,999999")
    assert list(answer) == [str(mine[0]), str(theirs), str(mine[1]), "abc", "999999"]
    assert answer[str(mine[0])]["status"] == "Pending" and answer[str(mine[1])]["charge"] == "0.13500"
    assert answer[str(theirs)] == answer["abc"] == answer["999999"] == {"error": "Incorrect order ID"}
    assert call(client, key, action="cancel", orders=str(theirs)) == [
        {"order": theirs, "cancel": {"error": "Incorrect order ID"}}
    ]


def test_status_of_100_orders_takes_a_constant_number_of_queries(client, key, alice, services):
    from billing.services import wallet_credit

    wallet_credit(user=alice, amount=Decimal(1000))
    ids = [call(client, key, action="add", service=str(services[1].pk), link=LINK, quantity="100")["order"]
           for _ in range(100)]  # fmt: skip
    with CaptureQueriesContext(connection) as queries:
        answer = call(client, key, action="status", orders=",".join(map(str, ids)))
    assert len(answer) == 100 and len(queries.captured_queries) <= 3


def test_it_refills_and_cancels_through_the_api(client, key, alice, services, simulator):
    from orders.services.polling import poll_statuses

    simulator.force_outcome = "Completed"
    done = call(client, key, action="add", service=str(services[1].pk), link=LINK, quantity="100")["order"]
    order_forward(order_id=done)
    simulator.clock.advance(3600)
    poll_statuses(everything=True)
    refill = call(client, key, action="refill", order=str(done))
    assert set(refill) == {"refill"} and isinstance(refill["refill"], str)
    assert call(client, key, action="refill_status", refill=refill["refill"]) == {"status": "Pending"}
    assert call(client, key, action="refill", orders=f"{done},424242") == [
        {"order": done, "refill": {"error": "Refill is disabled for this order"}},
        {"order": 424242, "refill": {"error": "Incorrect order ID"}},
    ]
    for synonym in ("refills", "orders"):
        assert call(client, key, action="refill_status", **{synonym: f"{refill['refill']},77"}) == [
            {"refill": int(refill["refill"]), "status": "Pending"},
            {"refill": 77, "status": {"error": "Refill not found"}},
        ]
    unsent = call(client, key, action="add", service=str(services[1].pk), link=LINK, quantity="100")["order"]
    assert call(client, key, action="cancel", order=str(unsent)) == [{"order": unsent, "cancel": 1}]
    assert call(client, key, action="cancel", orders=f"{unsent},{done}") == [
        {"order": unsent, "cancel": {"error": "Cancel is disabled for this order"}},
        {"order": done, "cancel": {"error": "Cancel is disabled for this order"}},
    ]
    assert Order.objects.get(pk=unsent).status == "Canceled"


def test_it_places_once_per_idempotency_key(client, key, alice, services):
    params = {
        "action": "add",
        "service": str(services[1].pk),
        "link": LINK,
        "quantity": "100",
        "idempotency_key": "k-1",
    }
    first, again = call(client, key, **params), call(client, key, **params)
    assert first == again and Order.objects.count() == 1
    assert LedgerEntry.objects.filter(kind="charge").count() == 1
    changed = call(client, key, **{**params, "quantity": "200"})
    assert changed == {"error": "Idempotency key reused with different parameters"}
    assert Order.objects.count() == 1


def test_create_api_key_prints_the_key_on_its_last_line(alice, client, services):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("create_api_key", "alice", stdout=out)
    new_key = out.getvalue().strip().splitlines()[-1]
    assert call(client, new_key, action="balance") == {"balance": "100.00000", "currency": "USD"}


def test_the_health_view_answers_without_touching_the_database(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert client.get("/healthz").json() == {"ok": True}


@pytest.mark.parametrize("encoding", ["form", "json", "get"])
@pytest.mark.parametrize(
    ("action", "extra", "expect"),
    [
        ("balance", {}, {"balance": "100.00000", "currency": "USD"}),
        ("status", {"order": "424242"}, {"error": "Incorrect order ID"}),
        ("status", {"orders": "424242"}, {"424242": {"error": "Incorrect order ID"}}),
        ("refill", {"order": "424242"}, {"error": "Incorrect order ID"}),
        ("refill_status", {"refills": "7"}, [{"refill": 7, "status": {"error": "Refill not found"}}]),
        ("cancel", {"orders": "424242"}, [{"order": 424242, "cancel": {"error": "Incorrect order ID"}}]),
    ],
)
def test_every_action_answers_the_same_over_every_encoding(client, key, encoding, action, extra, expect):
    params = {"key": key, "action": action, **extra}
    if encoding == "form":
        response = client.post(URL, urlencode(params), content_type="application/x-www-form-urlencoded")
    elif encoding == "json":
        response = client.post(URL, json.dumps(params), content_type="application/json")
    else:
        response = client.get(URL, params)
    assert response.json() == expect


def test_another_customers_refill_is_not_found(client, key, alice, bob, services, simulator):
    from orders.services.followups import refill_request
    from orders.services.polling import poll_statuses

    simulator.force_outcome = "Completed"
    bob_key = api_key_issue(user=bob)
    from billing.services import wallet_credit

    wallet_credit(user=bob, amount=Decimal(10))
    placed = call(client, bob_key, action="add", service=str(services[1].pk), link=LINK, quantity="100")["order"]
    order_forward(order_id=placed)
    simulator.clock.advance(3600)
    poll_statuses(everything=True)
    refill = refill_request(user=bob, order_id=placed)
    assert call(client, key, action="refill_status", refill=str(refill.pk)) == {"error": "Refill not found"}
    assert call(client, key, action="refill", order=str(placed)) == {"error": "Incorrect order ID"}


def test_a_price_change_reaches_the_service_list_at_once(client, key, services, django_capture_on_commit_callbacks):
    from catalog.models import Service
    from catalog.services.listings import services_set_markup

    assert next(s for s in call(client, key, action="services") if s["service"] == services[1].pk)["rate"] == "1.35"
    with django_capture_on_commit_callbacks(execute=True):  # the cache is dropped once the change is committed
        services_set_markup(services=Service.objects.filter(pk=services[1].pk), markup_percent=Decimal(100), actor=None)
    assert next(s for s in call(client, key, action="services") if s["service"] == services[1].pk)["rate"] == "1.80"


ASCII_RUNS = "Write the number of runs with the digits 0 to 9."
INTERVAL = "Enter the interval between runs, in minutes."


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"service": "S1", "quantity": "１００"}, "Incorrect quantity"),
        ({"service": "S1", "quantity": "١٠٠"}, "Incorrect quantity"),
        ({"service": "S1", "quantity": "100", "runs": "２", "interval": "10"}, ASCII_RUNS),
        ({"service": "S2", "quantity": "100", "runs": "２", "interval": "10"}, ASCII_RUNS),
        ({"service": "S2", "quantity": "100", "runs": "2", "interval": "１０"}, INTERVAL),
        ({"service": "S1١", "quantity": "100"}, "Incorrect service ID"),
    ],
)  # fmt: skip
def test_it_takes_only_ascii_digits_for_numbers_and_charges_nothing_else(client, key, alice, services, params, message):
    params = {k: str(services[int(v[1:2])].pk) + v[2:] if k == "service" else v for k, v in params.items()}
    assert call(client, key, action="add", link=LINK, **params) == {"error": message}
    assert _balance(alice) == Decimal(100) and not Order.objects.exists()


def test_odd_digits_are_unknown_ids_not_a_broken_request(client, key):
    unknown = {"error": "Incorrect order ID"}
    assert call(client, key, action="status", orders="1,²,٣") == {"1": unknown, "²": unknown, "٣": unknown}
    assert call(client, key, action="cancel", orders="²") == [{"order": "²", "cancel": {"error": "Incorrect order ID"}}]


def test_a_retry_with_a_different_client_nonce_is_still_the_same_order(client, key, services):
    params = {"action": "add", "service": str(services[1].pk), "link": LINK, "quantity": "100", "idempotency_key": "k"}
    first = call(client, key, **params, nonce="a")
    assert call(client, key, **params, nonce="b") == first and Order.objects.count() == 1
