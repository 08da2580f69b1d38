"""Values that once reached the database or a library that raised on them (found by a 10,000-request fuzz): each
now gets the protocol's own error, moves no money and writes no traceback to the log."""

import json
import logging
from decimal import Decimal
from urllib.parse import urlencode

import pytest

from accounts.services import api_key_issue
from billing.models import Wallet
from orders.models import IdempotencyKey, Order

pytestmark = pytest.mark.django_db
URL = "/api/v2"


@pytest.fixture
def key(alice):
    return api_key_issue(user=alice)


@pytest.fixture
def default_service(services):
    return services[1]  # Default type: link and quantity


@pytest.fixture
def comments_service(services):
    return services[6]  # Custom Comments


@pytest.fixture
def quiet_log(caplog):
    """The log as the endpoint wrote it: returns the records at INFO and above, checking none is an error or holds a
    traceback."""
    caplog.set_level(logging.INFO)

    def records():
        assert [record for record in caplog.records if record.levelno >= logging.WARNING or record.exc_info] == []
        return [record for record in caplog.records if record.name.startswith("api")]

    return records


def _nothing_moved(alice):
    assert not Order.objects.exists() and not IdempotencyKey.objects.exists()
    assert Wallet.objects.get(user=alice).balance == Decimal(100)


@pytest.mark.parametrize("key_in", ["query", "body"])
@pytest.mark.parametrize("header_size", [20_000, 200_000])
def test_a_multipart_part_with_headers_past_djangos_limit_is_an_incorrect_request(
    client, key, alice, quiet_log, key_in, header_size
):
    # Django's parser stops at 10 KiB of a part's headers ("Request max total header size exceeded").
    part = b'Content-Disposition: form-data; name="action"\r\nX-Junk: ' + b"b" * header_size + b"\r\n\r\nadd\r\n"
    body = b"--xx\r\n" + part + b"--xx--\r\n"
    if key_in == "body":
        body = b'--xx\r\nContent-Disposition: form-data; name="key"\r\n\r\n' + key.encode() + b"\r\n" + body
    query = f"?{urlencode({'key': key})}" if key_in == "query" else ""
    response = client.generic("POST", URL + query, body, content_type="multipart/form-data; boundary=xx")
    assert response.status_code == 200 and response.json() == {"error": "Incorrect request"}
    assert len(quiet_log()) <= 1
    _nothing_moved(alice)


@pytest.mark.parametrize("encoding", ["form", "json"])
def test_an_idempotency_key_with_a_nul_byte_is_refused_before_the_database(
    client, key, alice, default_service, quiet_log, encoding
):
    params = {"key": key, "action": "add", "service": default_service.pk, "link": "https://instagram.com/p/a",
              "quantity": 100, "idempotency_key": "order\x00-1"}  # fmt: skip
    if encoding == "form":
        response = client.post(URL, params)
    else:
        response = client.post(URL, json.dumps(params), content_type="application/json")
    assert response.json() == {"error": "The idempotency key must be 1 to 64 printable characters."}
    assert quiet_log() == []
    _nothing_moved(alice)


@pytest.mark.parametrize(
    "link", [[], "[]", "https://[]", "http://[::1", "http://]x.com[/", "https://[fe80::1%eth0]/", "https://x.com/\x00"]
)
def test_a_link_that_breaks_url_parsing_is_an_incorrect_link(client, key, alice, default_service, quiet_log, link):
    body = {"key": key, "action": "add", "service": default_service.pk, "link": link, "quantity": 100}
    response = client.post(URL, json.dumps(body), content_type="application/json")
    assert response.json() == {"error": "Incorrect link"}
    assert quiet_log() == []
    _nothing_moved(alice)


def test_a_link_with_brackets_is_an_incorrect_link_on_the_page_too(client, alice, default_service):
    client.force_login(alice)
    response = client.post("/orders/new/", {"service": default_service.pk, "link": "https://[]", "quantity": 100})
    assert response.status_code == 200 and "Incorrect link" in response.content.decode()
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    ("name", "escaped"),
    [("link", '"https://x.com/\\ud800"'), ("comments", '"one\\ntwo\\udfff"'), ("orders", '"1,\\ud83d"'),
     ("key", '"\\ud800\\ud800\\ud800\\ud800\\ud800\\ud800\\ud800"'), ("\\udc00", '"1"')],
)  # fmt: skip
def test_a_lone_surrogate_in_json_is_an_incorrect_request(
    client, key, alice, comments_service, quiet_log, name, escaped
):
    # Only a JSON escape can carry one; it has no UTF-8 form (the database, hashing, requests and the answer raise).
    fields = {"key": key, "action": "add", "service": comments_service.pk, "link": "https://x.com/a",
              "comments": "one\ntwo\nthree\nfour\nfive"}  # fmt: skip
    pairs = [f"{json.dumps(field)}: {json.dumps(value)}" for field, value in fields.items() if field != name]
    body = "{" + ", ".join([*pairs, f'"{name}": {escaped}']) + "}"
    response = client.post(URL, body, content_type="application/json")
    assert response.json() == {"error": "Incorrect request"}
    assert quiet_log() == []
    _nothing_moved(alice)


def test_a_key_with_a_nul_byte_is_an_invalid_key(client, quiet_log):
    response = client.post(URL, {"key": "0123456789ab\x00cdef", "action": "balance"})
    assert response.json() == {"error": "Invalid API key"}
    assert quiet_log() == []


def test_comments_with_a_nul_byte_are_refused_with_the_reason(client, key, alice, comments_service, quiet_log):
    body = {"key": key, "action": "add", "service": comments_service.pk, "link": "https://x.com/a",
            "comments": "one\ntwo\x00\nthree\nfour\nfive"}  # fmt: skip
    response = client.post(URL, body)
    assert response.json() == {
        "error": "The text contains a character that cannot be stored (a NUL byte or a lone surrogate)."
    }
    assert quiet_log() == []
    _nothing_moved(alice)


@pytest.mark.parametrize("content_type", ["application/json", "application/x-www-form-urlencoded", "text/plain"])
def test_a_body_past_the_upload_limit_is_an_incorrect_request_logged_once(
    client, key, alice, default_service, settings, quiet_log, content_type
):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    filler = "x" * 20_000
    fields = {"key": key, "action": "add", "service": default_service.pk, "link": "https://x.com/a",
              "quantity": 100, "note": filler}  # fmt: skip
    body = urlencode(fields) if content_type.endswith("urlencoded") else json.dumps(fields)
    response = client.post(URL, body, content_type=content_type)
    assert response.json() == {"error": "Incorrect request"}
    [record] = quiet_log()
    assert record.levelno == logging.INFO
    _nothing_moved(alice)


def test_a_line_longer_than_a_link_may_be_is_refused(client, key, alice, comments_service, quiet_log):
    comments = "\n".join(["one", "two", "x" * 2001, "four", "five"])
    body = {"key": key, "action": "add", "service": comments_service.pk, "link": "https://x.com/a",
            "comments": comments}  # fmt: skip
    assert client.post(URL, body).json() == {"error": "At most 2000 characters per line."}
    assert quiet_log() == []
    _nothing_moved(alice)
