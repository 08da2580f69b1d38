"""The /api/ page: a customer generates their key (shown once), regenerates it, and reads the documentation."""

import re
from datetime import UTC, datetime

import pytest
from django.test import Client
from django.utils.html import escape

from accounts.models import ApiKey
from accounts.services import api_key_issue
from api import docs
from upstream.service_types import SUPPORTED_TYPES

pytestmark = pytest.mark.django_db

PAGE, KEY_URL = "/api/", "/api/key/"


def _signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _shown_key(html: str) -> str:
    match = re.search(r'id="new-api-key">([^<]+)<', html)
    assert match, "the new key is on the page"
    return match.group(1)


def _balance_with(key: str) -> object:
    return Client().post("/api/v2", {"key": key, "action": "balance"}).json()


def test_it_sends_visitors_to_sign_in():
    response = Client().get(PAGE)
    assert response.status_code == 302 and response["Location"] == "/accounts/login/?next=/api/"


def test_it_documents_every_action_and_every_error_string(alice):
    html = _signed_in(alice).get(PAGE).content.decode()
    assert "http://testserver/api/v2" in html and "POST" in html and "JSON" in html
    for action in docs.ACTIONS:
        assert f'id="{action.anchor}"' in html and f'href="#{action.anchor}"' in html
    for error in docs.all_errors():
        assert escape(error) in html, error
    for type_name in SUPPORTED_TYPES:
        assert f'<th scope="row"><code>{type_name}</code></th>' in html
    assert "You have no API key yet." in html and "Generate key" in html


def test_it_shows_a_new_key_once_and_the_key_works(alice):
    client = _signed_in(alice)
    response = client.post(KEY_URL)
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    key = _shown_key(response.content.decode())
    assert _balance_with(key) == {"balance": "100.00000", "currency": "USD"}

    later = client.get(PAGE).content.decode()
    prefix = ApiKey.objects.get(user=alice).prefix
    assert key.startswith(prefix) and f"{prefix}…" in later
    assert key not in later and key[len(prefix) :] not in later and 'id="new-api-key"' not in later
    assert "Regenerate key" in later


def test_it_regenerates_and_the_old_key_stops_working_at_once(alice):
    client = _signed_in(alice)
    old = _shown_key(client.post(KEY_URL).content.decode())
    page = client.get(PAGE).content.decode()
    assert "stop working" in page and "data-confirm" in page

    new = _shown_key(client.post(KEY_URL).content.decode())
    assert new != old
    assert _balance_with(old) == {"error": "Invalid API key"}
    assert _balance_with(new) == {"balance": "100.00000", "currency": "USD"}


def test_it_rejects_a_key_request_without_the_csrf_token(alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.post(KEY_URL).status_code == 403
    assert not ApiKey.objects.filter(user=alice).exists()


def test_it_issues_keys_only_on_post(alice):
    assert _signed_in(alice).get(KEY_URL)["Location"] == "/api/"
    assert not ApiKey.objects.filter(user=alice).exists()


def test_it_never_shows_another_customers_key(alice, bob):
    api_key_issue(user=alice)
    prefix = ApiKey.objects.get(user=alice).prefix
    html = _signed_in(bob).get(PAGE).content.decode()
    assert prefix not in html and "You have no API key yet." in html


def test_it_dates_the_key_in_the_customers_time_zone(alice):
    api_key_issue(user=alice)
    ApiKey.objects.filter(user=alice).update(created_at=datetime(2026, 1, 2, 23, 30, tzinfo=UTC))
    alice.time_zone = "Asia/Tokyo"
    alice.save()
    assert "2026-01-03 08:30" in _signed_in(alice).get(PAGE).content.decode()
