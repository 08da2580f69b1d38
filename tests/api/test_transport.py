"""How /api/v2 reads requests and sends every answer: encodings, the throttle before the key lookup, the one
exception handler, broken bodies, and the short way API requests take through the middleware."""

import json
import logging
import random
from urllib.parse import urlencode

import pytest
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from rest_framework import exceptions

from accounts.services import api_key_issue
from api import views
from api.protocol import ApiError
from api.transport import exception_handler
from orders.models import Order
from tests.logwatch import watching

pytestmark = pytest.mark.django_db

URL = "/api/v2"
LINK = "https://instagram.com/p/abc"


@pytest.fixture
def key(alice, services):
    return api_key_issue(user=alice)


def test_it_reads_a_json_object_sent_as_text_or_with_no_content_type(client, key):
    body = json.dumps({"key": key, "action": "balance"})
    for content_type in ("text/plain", ""):
        answer = client.generic("POST", URL, body, content_type=content_type).json()
        assert answer == {"balance": "100.00000", "currency": "USD"}, content_type


def test_it_reads_json_numbers_booleans_and_arrays_of_ids(client, key, services):
    add = {"key": key, "action": "add", "service": services[1].pk, "link": LINK, "quantity": 100, "nonce": True}
    placed = client.post(URL, json.dumps(add), content_type="application/json; charset=utf-8").json()["order"]
    status = {"key": key, "action": "status", "orders": [placed, 424242]}
    answer = client.post(URL, json.dumps(status), content_type="application/json").json()
    assert answer[str(placed)]["charge"] == "0.13500" and answer["424242"] == {"error": "Incorrect order ID"}


def test_json_numbers_are_read_exactly_never_as_floats(client, key, services):
    def add(idempotency_key: str) -> object:
        body = f'{{"key": "{key}", "action": "add", "service": {services[1].pk}, "link": "{LINK}", "quantity": 100, '
        return client.post(
            URL, body + f'"idempotency_key": {idempotency_key}}}', content_type="application/json"
        ).json()

    first = add("1.10")
    assert add("1.10") == first and add("1.1") != first, "1.10 and 1.1 are two keys, as a float would not tell"
    assert Order.objects.count() == 2


def test_the_query_string_adds_to_a_post_body(client, key):
    answer = client.post(f"{URL}?{urlencode({'key': key})}", {"action": "balance"}).json()
    assert answer == {"balance": "100.00000", "currency": "USD"}


def test_it_answers_json_whatever_the_client_accepts(client, key):
    response = client.post(URL, {"key": key, "action": "balance"}, HTTP_ACCEPT="text/html")
    assert response["Content-Type"] == "application/json; charset=utf-8" and "balance" in response.json()


@pytest.mark.parametrize("method", ["put", "patch", "delete", "options"])
def test_other_methods_are_an_incorrect_request_before_any_key_is_checked(client, method, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = getattr(client, method)(
            URL, "key=x&action=balance", content_type="application/x-www-form-urlencoded"
        )
    assert response.status_code == 200 and response.json() == {"error": "Incorrect request"}


def test_a_refused_key_is_refused_before_it_is_looked_up(client, key, settings, django_assert_num_queries):
    settings.API_RATE_LIMIT, settings.API_RATE_WINDOW = 1, 10**6  # a window that cannot end during the test
    assert "balance" in client.post(URL, {"key": key, "action": "balance"}).json()
    for body in ({"key": key, "action": "balance"}, json.dumps({"key": key, "action": "services"})):
        with django_assert_num_queries(0):
            if isinstance(body, str):
                response = client.post(URL, body, content_type="application/json")
            else:
                response = client.get(URL, body)
        assert response.json() == {"error": "Too many requests"}


def test_made_up_keys_cost_no_query_once_the_address_is_refused(client, key, settings, django_assert_num_queries):
    settings.API_FAILED_KEY_LIMIT, settings.API_RATE_WINDOW = 2, 10**6
    for n in range(2):
        assert client.post(URL, {"key": f"{'f' * 12}made-up-{n}", "action": "balance"}).json() == {
            "error": "Invalid API key"
        }
    with django_assert_num_queries(0):
        for n in range(20):  # each a new key: no per-key limit would ever catch them
            answer = client.post(URL, {"key": f"{'f' * 12}made-up-again-{n}", "action": "add"}).json()
            assert answer == {"error": "Too many requests"}


def test_a_key_too_short_to_be_one_costs_no_query(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert client.post(URL, {"key": "nonsense", "action": "balance"}).json() == {"error": "Invalid API key"}


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (exceptions.ParseError(), "Incorrect request"),
        (exceptions.UnsupportedMediaType("text/csv"), "Incorrect request"),
        (exceptions.MethodNotAllowed("PUT"), "Incorrect request"),
        (exceptions.NotAcceptable(), "Incorrect request"),
        (exceptions.ValidationError("no"), "Incorrect request"),
        (exceptions.Throttled(), "Too many requests"),
        (exceptions.AuthenticationFailed(), "Invalid API key"),
        (exceptions.NotAuthenticated(), "Invalid API key"),
        (exceptions.PermissionDenied(), "Invalid API key"),
        (ApiError("Too many ids"), "Too many ids"),
        (RequestDataTooBig(), "Incorrect request"),
        (TooManyFieldsSent(), "Incorrect request"),
    ],
)
def test_every_error_is_an_http_200_with_the_protocols_string(error, message, caplog):
    caplog.set_level(logging.INFO)
    response = exception_handler(error, {})
    assert response.status_code == 200 and response.data == {"error": message}
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]


@pytest.mark.unexpected_error_expected
def test_an_unexpected_error_is_logged_as_critical_with_its_traceback_and_answered_plainly(
    client, key, monkeypatch, caplog
):
    def broken(user, params):
        raise RuntimeError("the disk is on fire")

    monkeypatch.setitem(views.ACTIONS, "balance", broken)
    response = client.post(URL, {"key": key, "action": "balance"})
    assert response.status_code == 200 and response.json() == {"error": "Incorrect request"}
    [record] = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert record.levelno == logging.CRITICAL and record.exc_info
    assert "the disk is on fire" in caplog.text and "Traceback" in caplog.text


@pytest.mark.unexpected_error_expected
def test_the_suite_notices_the_catch_all_being_reached():
    # What tests/conftest.py watches for, failing any test in which it happens.
    with watching("api.transport") as alarms:
        assert exception_handler(RuntimeError("nobody foresaw this"), {}).data == {"error": "Incorrect request"}
    assert alarms.catch_all() == ["api v2: unexpected error (a bug: this request should have had its own answer)"]
    with watching("api.transport") as alarms:
        exception_handler(exceptions.ParseError(), {})
    assert alarms.catch_all() == []


def _random_bytes(seed: int) -> bytes:
    return random.Random(seed).randbytes(2000)


@pytest.mark.parametrize(
    "content_type",
    ["multipart/form-data; boundary=xyz", "multipart/form-data", "application/json", "text/plain", ""],
)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_bytes_are_an_incorrect_request_without_an_error_in_the_log(client, key, caplog, content_type, seed):
    caplog.set_level(logging.INFO)
    response = client.generic(
        "POST", f"{URL}?{urlencode({'key': key})}", _random_bytes(seed), content_type=content_type
    )
    assert response.status_code == 200 and response.json() == {"error": "Incorrect request"}
    assert [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info] == [], caplog.text
    assert len([r for r in caplog.records if r.name.startswith("api")]) <= 1


def test_api_answers_carry_the_security_headers_and_no_cookie(client, key, alice):
    client.force_login(alice)  # a browser with a session: the API ignores it, and touches nothing of it
    response = client.post(URL, {"key": key, "action": "balance"})
    assert response.json() == {"balance": "100.00000", "currency": "USD"}
    page = client.get("/accounts/login/")
    assert set(response["Content-Security-Policy"].split("; ")) == set(page["Content-Security-Policy"].split("; "))
    assert response["X-Frame-Options"] == "DENY" and response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin" and not response.cookies
    assert "Cookie" not in response.get("Vary", "") and "Accept-Language" not in response.get("Vary", "")
