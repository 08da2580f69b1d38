"""Writes to providers: a URL that would leak the key, or a new URL without the key given again, is refused."""

import pytest
from django.core.exceptions import ValidationError

from catalog.models import PROVIDER_URL_INSECURE, Provider, validate_provider_url
from catalog.services.providers import ProviderError, provider_create, provider_update
from tests.conftest import SIMULATOR_KEY

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url",
    [
        "https://provider.example.com/api/v2",
        "http://127.0.0.1:8000/api/v2",
        "http://127.3.4.5/api/v2",
        "http://[::1]:8000/api/v2",
        "http://localhost:8000/api/v2",
        "HTTP://LOCALHOST/api/v2",
    ],
)
def test_it_accepts_https_and_http_on_loopback(url):
    validate_provider_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/api/v2",
        "http://127.0.0.1.example.com/api/v2",
        "http://localhost.example.com/api/v2",
        "http://10.0.0.7/api/v2",
        "http://[::ffff:10.0.0.7]/api/v2",
        "ftp://127.0.0.1/api/v2",
    ],
)
def test_it_rejects_a_url_that_would_send_the_key_in_clear_text(url):
    with pytest.raises(ValidationError) as raised:
        validate_provider_url(url)
    assert raised.value.messages == [PROVIDER_URL_INSECURE]


def test_it_refuses_to_create_a_provider_with_an_http_url(simulator):
    with pytest.raises(ValidationError) as raised:
        provider_create(name="Main", api_url="http://example.com/api/v2", api_key=SIMULATOR_KEY, actor=None)
    assert raised.value.message_dict == {"api_url": [PROVIDER_URL_INSECURE]}
    assert not Provider.objects.exists() and simulator.calls == []


def test_it_refuses_a_new_url_without_the_key(provider, simulator):
    provider.api_url = "http://127.0.0.1:9/api/v2"
    with pytest.raises(ProviderError) as raised:
        provider_update(provider=provider, fields=["api_url"], actor=None)
    assert raised.value.message == "Enter the API key again when you change the URL."
    assert Provider.objects.get().api_url == simulator.url


def test_it_moves_a_provider_when_the_same_key_is_given_again(provider, simulator):
    stored = provider.api_url
    provider.api_url = stored.replace("127.0.0.1", "localhost")
    provider_update(provider=provider, fields=["api_url", "api_key"], actor=None)
    assert Provider.objects.get().api_url == provider.api_url != stored
    assert len(simulator.calls_for("balance")) == 1
