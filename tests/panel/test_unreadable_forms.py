"""A form body the panel cannot read answers 400 and logs one INFO line, never a traceback (found by the fuzz,
tests/fuzz/test_web_forms.py, where each of these was a 500 or a logged traceback); the body of a view exempt from
CSRF (a gateway's webhook) is left to that view."""

import logging

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

BROKEN_MULTIPART = b"--xx\r\nA: " + b"b" * 20_000 + b"\r\n\r\nvalue\r\n--xx--\r\n"


def _tracebacks(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.exc_info or record.levelno >= logging.ERROR]


@pytest.mark.parametrize(
    ("path", "body", "content_type", "status"),
    [
        ("/accounts/login/", BROKEN_MULTIPART, "multipart/form-data; boundary=xx", 400),
        ("/accounts/signup/", b"username=x", "multipart/form-data; boundary=", 400),
        ("/accounts/login/", b"username=\xe9", "application/x-www-form-urlencoded; charset=latin-1", 400),
        # An address that is no page is still not found, whatever was sent to it.
        ("/no-such-page/", BROKEN_MULTIPART, "multipart/form-data; boundary=xx", 404),
        ("/api/staff/v1/wallets/a/b/", BROKEN_MULTIPART, "multipart/form-data; boundary=xx", 404),
    ],
)
def test_an_unreadable_form_answers_400_or_404_without_a_traceback(caplog, path, body, content_type, status):
    client = Client(enforce_csrf_checks=True)
    with caplog.at_level(logging.INFO):
        response = client.generic("POST", path, body, content_type=content_type)
    assert response.status_code == status and response["Content-Type"].startswith("text/html")
    assert _tracebacks(caplog) == []
    [said] = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "panel.middleware"]
    assert said[0] == logging.INFO and said[1].startswith(f"unreadable form body on {path} (")


def test_a_webhook_of_no_gateway_with_an_unreadable_body_answers_404(caplog):
    client = Client()
    with caplog.at_level(logging.INFO):
        response = client.generic(
            "POST", "/payments/paypal/webhook/", BROKEN_MULTIPART, content_type="multipart/form-data; boundary=xx"
        )
    assert (response.status_code, response.content) == (404, b"no such gateway")
    assert _tracebacks(caplog) == []


@pytest.mark.parametrize("path", ["/orders/", "/accounts/login/", "/no-such-page/"])
def test_an_address_too_long_for_a_page_answers_414_without_an_error(caplog, path):
    # Its sign-in redirect would carry it percent-encoded as `next`, past the 16,384 characters Django allows
    # (DisallowedRedirect, logged as an error), and gunicorn no longer cuts such a request line (gunicorn.conf.py).
    with caplog.at_level(logging.INFO):
        response = Client().get(path, {"q": "%" * 5000})
    assert response.status_code == 414
    assert _tracebacks(caplog) == []
    assert Client().get("/orders/", {"q": "%" * 1000}).status_code == 302  # to sign in, bringing it back
