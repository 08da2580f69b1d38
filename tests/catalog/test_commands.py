"""The operators' commands: add_provider, sync_catalog, demo."""

import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from accounts.models import User
from billing.models import PaymentMethod
from catalog.models import PROVIDER_URL_INSECURE, Provider, Service
from tests.conftest import SIMULATOR_KEY
from tests.factories import ProviderFactory

pytestmark = pytest.mark.django_db


def _call(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_it_adds_a_provider_after_checking_the_connection(simulator):
    output = _call("add_provider", "Main", simulator.url, SIMULATOR_KEY, "--markup", "30", "--exchange-rate", "1.1")
    provider = Provider.objects.get(name="Main")
    assert (provider.markup_percent, str(provider.exchange_rate)) == (30, "1.10000000")
    assert provider.balance == 1000 and "balance 1000.00000 USD" in output
    assert "sync_catalog --provider Main" in output


@pytest.mark.parametrize(
    ("url", "key", "message"),
    [
        (None, "wrong-key", "Main refused the request: Invalid API key"),
        ("http://127.0.0.1:9/api/v2", SIMULATOR_KEY, "Cannot reach Main"),
        ("not a url", SIMULATOR_KEY, "api_url: Enter a valid URL."),
    ],
)
def test_it_refuses_a_provider_that_does_not_answer(simulator, url, key, message):
    with pytest.raises(CommandError, match=re.escape(message)) as caught:
        _call("add_provider", "Main", url or simulator.url, key)
    assert not Provider.objects.exists()
    assert key not in str(caught.value)


def test_it_refuses_an_http_url_of_another_host(simulator):
    with pytest.raises(CommandError, match=re.escape(f"api_url: {PROVIDER_URL_INSECURE}")):
        _call("add_provider", "Main", "http://example.com/api/v2", SIMULATOR_KEY)
    assert not Provider.objects.exists() and simulator.calls == []


def test_it_adds_a_provider_at_http_on_loopback(simulator):
    assert simulator.url.startswith("http://127.0.0.1:")
    _call("add_provider", "Main", simulator.url, SIMULATOR_KEY)
    assert Provider.objects.get().api_url == simulator.url


def test_it_refuses_a_provider_answering_html(simulator):
    simulator.faults.html_502 = 1
    with pytest.raises(CommandError, match="did not answer like an API v2 endpoint"):
        _call("add_provider", "Main", simulator.url, SIMULATOR_KEY)
    assert not Provider.objects.exists()


def test_it_refuses_a_duplicate_provider_name(simulator):
    ProviderFactory(name="Main")
    with pytest.raises(CommandError, match="already exists"):
        _call("add_provider", "Main", simulator.url, SIMULATOR_KEY)


def test_it_syncs_every_active_provider_or_one(provider, simulator):
    ProviderFactory(name="Paused", is_active=False)
    output = _call("sync_catalog")
    assert f"Sim: Synced: {len(simulator.catalog)} new" in output and "Paused" not in output
    output = _call("sync_catalog", "--provider", "Sim")
    assert f"0 new, 0 updated, {len(simulator.catalog)} unchanged" in output


def test_it_fails_the_sync_command_when_a_provider_fails(provider, simulator):
    simulator.stop()
    with pytest.raises(CommandError, match="1 provider"):
        _call("sync_catalog")
    with pytest.raises(CommandError, match="No provider named 'Nope'"):
        _call("sync_catalog", "--provider", "Nope")


def test_it_sets_up_the_demo_and_can_run_again(simulator):
    first = _call("demo", "--provider-url", simulator.url, "--provider-key", SIMULATOR_KEY)
    second = _call("demo", "--provider-url", simulator.url, "--provider-key", SIMULATOR_KEY)
    assert Provider.objects.count() == 1 and Provider.objects.get().balance == 1000
    assert Service.objects.filter(is_active=True).count() == len(simulator.catalog)
    passwords = [re.findall(r"password (\S+)", text) for text in (first, second)]
    assert len(passwords[0]) == 2 and passwords[0] != passwords[1]
    admin, customer = User.objects.get(username="admin"), User.objects.get(username="demo")
    assert not customer.is_staff and customer.check_password(passwords[1][0])
    assert admin.is_superuser and admin.check_password(passwords[1][1])
    assert "Customer panel: http://127.0.0.1:8000/ " in second and "http://127.0.0.1:8000/admin/" in second
    assert PaymentMethod.objects.get().name == "Bank transfer (demo)"


def test_it_stops_the_demo_when_the_provider_never_answers():
    with pytest.raises(CommandError, match="does not answer"):
        _call("demo", "--provider-url", "http://127.0.0.1:9/api/v2", "--wait", "1")


def test_it_refuses_a_currency_that_is_not_a_code(simulator):
    with pytest.raises(CommandError, match="three-letter currency code"):
        _call("add_provider", "Main", simulator.url, SIMULATOR_KEY, "--currency", "US$")
    assert not Provider.objects.exists()
