"""The catalog in Django admin: pages, hostile upstream text, pricing edits and the provider actions."""

import threading
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.http import HttpResponseBase
from django.test import Client
from django.urls import reverse

from catalog.models import PROVIDER_URL_INSECURE, Category, Provider, Service
from catalog.services.sync import catalog_sync
from tests.conftest import SIMULATOR_KEY
from tests.factories import CategoryFactory, ProviderFactory, ServiceFactory
from upstream.simulator import FakeClock, Simulator

pytestmark = pytest.mark.django_db

HOSTILE = '<script>alert("x")</script> Instagramフォロワー 🚀'


@pytest.fixture(autouse=True)
def _default_markup(settings):
    settings.DEFAULT_MARKUP_PERCENT = Decimal(50)


class Listener(ThreadingHTTPServer):
    """Someone else's server on loopback that answers every request and remembers what it was sent."""

    def __init__(self) -> None:
        self.received: list[bytes] = []
        super().__init__(("127.0.0.1", 0), _Recorder)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/api/v2"


class _Recorder(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        assert isinstance(self.server, Listener)
        self.server.received.append(self.requestline.encode() + b"\n" + bytes(self.headers) + body)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"balance": "1.00", "currency": "USD"}')

    do_GET = do_POST

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def _changelist(model: str) -> str:
    return reverse(f"admin:catalog_{model}_changelist")


def test_it_lists_services_with_prices_and_margin(admin_client):
    ServiceFactory(upstream_rate=Decimal("2.000000"), rate=Decimal("3.000000"))
    page = admin_client.get(_changelist("service")).content.decode()
    assert "3.000000" in page and "50.0%" in page


@pytest.mark.parametrize("model", ["service", "category", "provider"])
def test_it_escapes_hostile_upstream_text(admin_client, model):
    provider = ProviderFactory(name=HOSTILE)
    ServiceFactory(provider=provider, name=HOSTILE, upstream_name=HOSTILE, category=CategoryFactory(name=HOSTILE))
    page = admin_client.get(_changelist(model)).content.decode()
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; Instagramフォロワー 🚀" in page


def test_it_escapes_hostile_text_on_the_service_page(admin_client):
    service = ServiceFactory(name=HOSTILE, upstream_name=HOSTILE, description="<img src=x onerror=alert(1)>")
    response = admin_client.get(reverse("admin:catalog_service_change", args=[service.pk]))
    page = response.content.decode()
    assert response.status_code == 200
    assert "<script>alert" not in page and "<img src=x" not in page and "🚀" in page


def test_it_filters_and_searches_services(admin_client):
    ServiceFactory(name="Instagram Followers", type="Default")
    ServiceFactory(name="TikTok Views", type="Package")
    page = admin_client.get(_changelist("service"), {"q": "tiktok"}).content.decode()
    assert "TikTok Views" in page and "Instagram Followers" not in page
    page = admin_client.get(_changelist("service"), {"type__exact": "Default"}).content.decode()
    assert "Instagram Followers" in page and "TikTok Views" not in page


def _list_edit(service: Service, **changes: str) -> dict[str, str]:
    data = {
        "form-TOTAL_FORMS": "1",
        "form-INITIAL_FORMS": "1",
        "form-0-id": str(service.pk),
        "form-0-markup_percent": "" if service.markup_percent is None else str(service.markup_percent),
        "form-0-fixed_rate": "" if service.fixed_rate is None else str(service.fixed_rate),
        "_save": "Save",
    }
    if service.is_active:
        data["form-0-is_active"] = "on"
    data.update({f"form-0-{k}": v for k, v in changes.items()})
    return data


def test_it_reprices_when_markup_is_edited_in_the_list(admin_client):
    service = ServiceFactory(upstream_rate=Decimal("2.000000"), rate=Decimal("3.000000"))
    response = admin_client.post(_changelist("service"), _list_edit(service, markup_percent="10"))
    assert response.status_code == 302
    service.refresh_from_db()
    assert service.rate == Decimal("2.200000")


def test_it_refuses_a_fixed_price_below_cost_in_the_list(admin_client):
    service = ServiceFactory(upstream_rate=Decimal("2.000000"), rate=Decimal("3.000000"))
    response = admin_client.post(_changelist("service"), _list_edit(service, fixed_rate="1.5"))
    assert response.status_code == 200
    assert "below the cost 2.000000" in response.content.decode()
    service.refresh_from_db()
    assert service.fixed_rate is None and service.rate == Decimal("3.000000")


def test_it_reprices_a_category_when_its_markup_changes(admin_client):
    category = CategoryFactory()
    service = ServiceFactory(category=category, upstream_rate=Decimal("1.000000"), rate=Decimal("1.500000"))
    response = admin_client.post(
        reverse("admin:catalog_category_change", args=[category.pk]),
        {"name": category.name, "position": "0", "is_active": "on", "markup_percent": "200"},
    )
    assert response.status_code == 302
    service.refresh_from_db()
    assert service.rate == Decimal("3.000000")


def test_it_reprices_a_category_when_its_markup_is_edited_in_the_list(admin_client):
    category = CategoryFactory()
    service = ServiceFactory(category=category, upstream_rate=Decimal("1.000000"), rate=Decimal("1.500000"))
    other = ServiceFactory(upstream_rate=Decimal("1.000000"), rate=Decimal("1.500000"))
    response = admin_client.post(
        _changelist("category"),
        {"form-TOTAL_FORMS": "1", "form-INITIAL_FORMS": "1", "form-0-id": str(category.pk), "form-0-position": "3",
         "form-0-is_active": "on", "form-0-markup_percent": "100", "_save": "Save"},
    )  # fmt: skip
    assert response.status_code == 302
    category.refresh_from_db()
    assert (category.position, category.markup_percent) == (3, Decimal(100))
    service.refresh_from_db()
    other.refresh_from_db()
    assert (service.rate, other.rate) == (Decimal("2.000000"), Decimal("1.500000"))


def test_it_reprices_a_provider_when_its_exchange_rate_changes(admin_client):
    provider = ProviderFactory()
    service = ServiceFactory(provider=provider, upstream_rate=Decimal("1.000000"), rate=Decimal("1.500000"))
    response = admin_client.post(
        reverse("admin:catalog_provider_change", args=[provider.pk]),
        {"name": provider.name, "api_url": provider.api_url, "api_key": "", "currency": "eur",
         "exchange_rate": "2", "markup_percent": "", "is_active": "on"},
    )  # fmt: skip
    assert response.status_code == 302
    provider.refresh_from_db()
    assert provider.currency == "EUR" and provider.api_key.startswith("provider-key-")
    service.refresh_from_db()
    assert service.rate == Decimal("3.000000")


def test_it_never_shows_the_provider_key(admin_client):
    provider = ProviderFactory(api_key="sk-very-secret-provider-key")
    for url in (_changelist("provider"), reverse("admin:catalog_provider_change", args=[provider.pk])):
        page = admin_client.get(url).content.decode()
        assert "sk-very-secret-provider-key" not in page and "sk-v…ey" in page


def test_it_sets_markup_on_selected_services_after_confirmation(admin_client):
    chosen = ServiceFactory.create_batch(2, upstream_rate=Decimal("1.000000"))
    other = ServiceFactory(upstream_rate=Decimal("1.000000"), rate=Decimal("1.500000"))
    selection = {"action": "set_markup", "_selected_action": [str(s.pk) for s in chosen]}
    confirm = admin_client.post(_changelist("service"), selection)
    assert confirm.status_code == 200 and "Set markup" in confirm.content.decode()
    done = admin_client.post(_changelist("service"), {**selection, "apply": "1", "markup_percent": "20"}, follow=True)
    assert "Markup of 2 service(s) set to 20%" in done.content.decode()
    assert {s.rate for s in Service.objects.filter(pk__in=[s.pk for s in chosen])} == {Decimal("1.200000")}
    other.refresh_from_db()
    assert other.rate == Decimal("1.500000")


def test_it_enables_only_services_that_can_be_sold(admin_client):
    sellable = ServiceFactory(is_active=False, upstream_rate=Decimal("1.000000"))
    below = ServiceFactory(is_active=False, upstream_rate=Decimal("2.000000"), fixed_rate=Decimal("1.000000"))
    response = admin_client.post(
        _changelist("service"), {"action": "enable", "_selected_action": [sellable.pk, below.pk]}, follow=True
    )
    page = response.content.decode()
    assert "Enabled 1 service(s)" in page and "no price at or above cost" in page
    sellable.refresh_from_db()
    below.refresh_from_db()
    assert sellable.is_active and sellable.rate == Decimal("1.500000") and not below.is_active


def test_it_disables_selected_services(admin_client):
    service = ServiceFactory()
    admin_client.post(_changelist("service"), {"action": "disable", "_selected_action": [service.pk]})
    service.refresh_from_db()
    assert not service.is_active


def test_it_tests_the_connection_and_shows_the_balance(admin_client, provider):
    response = admin_client.post(
        _changelist("provider"), {"action": "test_connection", "_selected_action": [provider.pk]}, follow=True
    )
    assert "Sim: connected, balance 1000.00000 USD." in response.content.decode()
    provider.refresh_from_db()
    assert provider.balance == Decimal(1000) and provider.balance_checked_at is not None


def test_it_says_plainly_when_the_key_is_wrong(admin_client, simulator):
    provider = ProviderFactory(name="Wrong", api_url=simulator.url, api_key="not-the-key")
    response = admin_client.post(
        _changelist("provider"), {"action": "test_connection", "_selected_action": [provider.pk]}, follow=True
    )
    assert "Wrong refused the request: Invalid API key" in response.content.decode()


def test_it_syncs_now_and_shows_the_outcome(admin_client, provider, simulator):
    response = admin_client.post(
        _changelist("provider"), {"action": "sync_now", "_selected_action": [provider.pk]}, follow=True
    )
    assert f"Sim: Synced: {len(simulator.catalog)} new" in response.content.decode()
    assert Service.objects.filter(provider=provider).count() == len(simulator.catalog)
    simulator.stop()
    response = admin_client.post(
        _changelist("provider"), {"action": "sync_now", "_selected_action": [provider.pk]}, follow=True
    )
    assert "Sync failed, catalog left as it was: Cannot reach Sim" in response.content.decode()
    page = admin_client.get(reverse("admin:catalog_provider_change", args=[provider.pk])).content.decode()
    assert "Cannot reach Sim" in page and SIMULATOR_KEY not in page


def _add_provider(client: Client, api_url: str, api_key: str) -> HttpResponseBase:
    return client.post(
        reverse("admin:catalog_provider_add"),
        {"name": "New", "api_url": api_url, "api_key": api_key, "currency": "USD", "exchange_rate": "1",
         "markup_percent": "25", "is_active": "on"},
    )  # fmt: skip


def _change_provider(client: Client, provider: Provider, **changes: str) -> HttpResponseBase:
    return client.post(
        reverse("admin:catalog_provider_change", args=[provider.pk]),
        {"name": provider.name, "api_url": provider.api_url, "api_key": "", "currency": provider.currency,
         "exchange_rate": str(provider.exchange_rate), "markup_percent": "", "is_active": "on", **changes},
    )  # fmt: skip


def test_it_adds_a_provider_with_a_hidden_key(admin_client):
    with Simulator(key="k-123456789", clock=FakeClock()) as simulator:
        response = _add_provider(admin_client, simulator.url, "k-123456789")
    assert response.status_code == 302
    assert Provider.objects.get(name="New").api_key == "k-123456789"


def test_it_adds_a_provider_once_it_answers_with_its_balance(admin_client, simulator):
    response = _add_provider(admin_client, simulator.url, SIMULATOR_KEY)
    assert response.status_code == 302
    provider = Provider.objects.get(name="New")
    assert (provider.api_url, provider.markup_percent, provider.is_active) == (simulator.url, Decimal(25), True)
    assert (provider.balance, provider.balance_currency) == (Decimal(1000), "USD")
    assert provider.balance_checked_at is not None


@pytest.mark.parametrize(
    ("url", "key", "message"),
    [
        (None, "wrong-key", "New refused the request: Invalid API key"),
        ("http://127.0.0.1:9/api/v2", SIMULATOR_KEY, "Cannot reach New"),
    ],
)
def test_it_refuses_to_add_a_provider_that_does_not_answer(admin_client, simulator, url, key, message):
    response = _add_provider(admin_client, url or simulator.url, key)
    page = response.content.decode()
    assert response.status_code == 200 and message in page and key not in page
    assert not Provider.objects.exists()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"api_url": "http://127.0.0.1:9/api/v2", "api_key": SIMULATOR_KEY}, "Cannot reach Sim"),
        ({"api_key": "wrong-key"}, "Sim refused the request: Invalid API key"),
    ],
)
def test_it_refuses_a_new_url_or_key_that_does_not_answer(admin_client, provider, simulator, changes, message):
    response = _change_provider(admin_client, provider, exchange_rate="2", **changes)
    page = response.content.decode()
    assert response.status_code == 200 and message in page
    provider.refresh_from_db()
    assert (provider.api_url, provider.api_key) == (simulator.url, SIMULATOR_KEY)
    assert provider.exchange_rate == Decimal(1) and provider.balance is None


def test_it_records_the_balance_when_a_new_url_answers(admin_client, simulator):
    provider = ProviderFactory(name="Moved", api_key=SIMULATOR_KEY)
    response = _change_provider(admin_client, provider, api_url=simulator.url, api_key=SIMULATOR_KEY)
    assert response.status_code == 302
    provider.refresh_from_db()
    assert provider.api_url == simulator.url and provider.balance == Decimal(1000)


def test_it_refuses_a_negative_markup(admin_client):
    category = CategoryFactory()
    response = admin_client.post(
        reverse("admin:catalog_category_change", args=[category.pk]),
        {"name": category.name, "position": "0", "markup_percent": "-10"},
    )
    assert response.status_code == 200 and "greater than or equal to 0" in response.content.decode()


def test_it_shows_the_synced_demo_catalog(admin_client, provider):
    catalog_sync(provider=provider)
    page = admin_client.get(_changelist("service")).content.decode()
    assert "Instagramフォロワー" in page and "1.350000" in page and "📸 Instagram" in page
    assert Category.objects.count() >= 4


def test_it_refuses_to_enable_a_service_that_vanished_upstream(admin_client):
    gone = ServiceFactory(is_active=False, missing_upstream=True, disabled_reason="missing_upstream")
    response = admin_client.post(
        _changelist("service"), {"action": "enable", "_selected_action": [gone.pk]}, follow=True
    )
    assert "Enabled 0 service(s)" in response.content.decode()
    response = admin_client.post(_changelist("service"), _list_edit(gone, is_active="on"))
    assert response.status_code == 200 and "vanished upstream" in response.content.decode()
    gone.refresh_from_db()
    assert not gone.is_active


def test_it_refuses_a_new_url_without_the_key_and_sends_the_key_nowhere(admin_client, provider, simulator, listener):
    response = _change_provider(admin_client, provider, api_url=listener.url)
    page = response.content.decode()
    assert response.status_code == 200 and "Enter the API key again when you change the URL." in page
    provider.refresh_from_db()
    assert (provider.api_url, provider.api_key) == (simulator.url, SIMULATOR_KEY)
    admin_client.post(_changelist("provider"), {"action": "test_connection", "_selected_action": [provider.pk]})
    assert listener.received == []
    provider.refresh_from_db()
    assert provider.balance == Decimal(1000) and len(simulator.calls_for("balance")) == 1


def test_it_moves_a_provider_to_a_new_url_with_the_key_given_again(admin_client, provider, listener):
    response = _change_provider(admin_client, provider, api_url=listener.url, api_key="key-of-the-new-host")
    assert response.status_code == 302
    provider.refresh_from_db()
    assert (provider.api_url, provider.api_key) == (listener.url, "key-of-the-new-host")
    assert len(listener.received) == 1 and SIMULATOR_KEY.encode() not in listener.received[0]


@pytest.mark.parametrize("url", ["http://example.com/api/v2", "http://10.0.0.7/api/v2", "ftp://127.0.0.1/api/v2"])
def test_it_refuses_a_url_that_would_send_the_key_in_clear_text(admin_client, provider, simulator, url):
    response = _add_provider(admin_client, url, SIMULATOR_KEY)
    assert response.status_code == 200 and PROVIDER_URL_INSECURE in response.content.decode()
    assert not Provider.objects.filter(name="New").exists()
    response = _change_provider(admin_client, provider, api_url=url, api_key=SIMULATOR_KEY)
    assert response.status_code == 200 and PROVIDER_URL_INSECURE in response.content.decode()
    provider.refresh_from_db()
    assert provider.api_url == simulator.url


def test_an_admin_lets_the_panel_run_dripfeed_for_a_service(admin_client):
    service = ServiceFactory(name="Followers", fixed_rate=Decimal("2.000000"))
    assert not service.offers_dripfeed
    form = {
        "name": service.name, "category": str(service.category_id), "description": "", "is_active": "on",
        "refill_days": "30", "panel_dripfeed": "on", "markup_percent": "", "fixed_rate": "2.000000",
    }  # fmt: skip
    response = admin_client.post(reverse("admin:catalog_service_change", args=[service.pk]), form)
    assert response.status_code == 302
    service.refresh_from_db()
    assert service.panel_dripfeed and service.offers_dripfeed and service.panel_runs_dripfeed
