"""`services` is answered from bytes kept per catalog version and discount: every change to what a customer sees
reaches the very next answer, whichever door it came through (a sync, each admin page and action, a discount)."""

import gzip
from decimal import Decimal
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.services import api_key_issue
from catalog.models import Service
from catalog.selectors import CACHE_KEY, services_for_sale
from catalog.services.sync import catalog_sync
from upstream.simulator import SimService, Simulator

pytestmark = pytest.mark.django_db


@pytest.fixture
def key(alice, services):
    return api_key_issue(user=alice)


@pytest.fixture
def listed(client, key):
    """What `services` answers alice now, by service id (in the order of the answer)."""

    def answer() -> dict[int, dict[str, Any]]:
        response = client.post("/api/v2", {"key": key, "action": "services"})
        assert response.status_code == 200
        return {entry["service"]: entry for entry in response.json()}

    return answer


@pytest.fixture
def staff(admin_client, django_capture_on_commit_callbacks):
    """The admin, each of whose requests commits (and so runs what waits for the commit) before it returns."""

    class Staff:
        def post(self, url: str, data: dict[str, Any]) -> None:
            with django_capture_on_commit_callbacks(execute=True):
                response = admin_client.post(url, data)
            assert response.status_code == 302, response.content.decode()[:2000]

    return Staff()


def _changelist(model: str) -> str:
    return reverse(f"admin:catalog_{model}_changelist")


def _service_form(service: Service, **changes: str) -> dict[str, str]:
    """The admin's change form of the service as it stands, with these changes (an empty string unticks a box)."""
    form = {
        "name": service.name, "category": str(service.category_id), "description": service.description,
        "is_active": "on" if service.is_active else "", "refill_days": str(service.refill_days or ""),
        "deny_duplicates": "on" if service.deny_duplicates else "",
        "markup_percent": "" if service.markup_percent is None else str(service.markup_percent),
        "fixed_rate": "" if service.fixed_rate is None else str(service.fixed_rate),
        **changes,
    }  # fmt: skip
    return {name: value for name, value in form.items() if value != "" or name not in ("is_active", "deny_duplicates")}


def test_a_repeat_is_answered_without_reading_the_catalog(client, key, listed):
    first = listed()
    with CaptureQueriesContext(connection) as queries:
        assert listed() == first
    assert len(queries.captured_queries) == 1 and "catalog_" not in queries.captured_queries[0]["sql"]


def test_a_client_that_takes_gzip_gets_the_same_answer_gzipped(client, key):
    plain = client.post("/api/v2", {"key": key, "action": "services"})
    gzipped = client.post("/api/v2", {"key": key, "action": "services"}, HTTP_ACCEPT_ENCODING="gzip, deflate")
    assert gzipped["Content-Encoding"] == "gzip" and "Content-Encoding" not in plain
    assert gzip.decompress(gzipped.content) == plain.content and len(gzipped.content) < len(plain.content) / 3
    assert plain["Vary"] == gzipped["Vary"] == "Accept-Encoding"


def test_each_discount_has_its_own_answer(client, alice, bob, services, listed):
    bob.discount_percent = Decimal(10)
    bob.save()
    bobs = {entry["service"]: entry for entry in client.post(
        "/api/v2", {"key": api_key_issue(user=bob), "action": "services"}).json()}  # fmt: skip
    assert (listed()[services[1].pk]["rate"], bobs[services[1].pk]["rate"]) == ("1.35", "1.215")
    alice.discount_percent = Decimal(20)
    alice.save()
    assert listed()[services[1].pk]["rate"] == "1.08"


def test_rows_kept_for_another_version_are_never_served(services):
    cache.set(CACHE_KEY, ("a version long gone", []), 60)
    assert len(services_for_sale()) == len(services)


def _upstream(simulator: Simulator, upstream_id: int) -> SimService:
    return next(s for s in simulator.catalog if s.id == upstream_id)


def test_a_sync_brings_new_prices_names_services_and_departures(listed, services, simulator, provider):
    before = listed()
    _upstream(simulator, 1).rate = Decimal("1.10")
    _upstream(simulator, 4).name = "YouTube Views HQ"
    gone = simulator.catalog.pop(next(i for i, s in enumerate(simulator.catalog) if s.id == 5))
    simulator.catalog.append(SimService(id=900, name="Threads Likes", type="Default", category="Threads",
                                        rate=Decimal("0.50"), min=10, max=5000))  # fmt: skip
    assert catalog_sync(provider=provider).ok
    after = listed()
    assert (before[services[1].pk]["rate"], after[services[1].pk]["rate"]) == ("1.35", "1.65")
    assert after[services[4].pk]["name"] == "YouTube Views HQ"
    assert services[gone.id].pk in before and services[gone.id].pk not in after
    new = Service.objects.get(provider=provider, upstream_id=900)
    assert after[new.pk]["name"] == "Threads Likes" and after[new.pk]["rate"] == "0.75"


@pytest.mark.parametrize(
    ("changes", "field", "expected"),
    [
        ({"fixed_rate": "2.5"}, "rate", "2.50"),
        ({"markup_percent": "100"}, "rate", "1.80"),
        ({"name": "Followers, our own name"}, "name", "Followers, our own name"),
        ({"description": "Real-looking accounts."}, "desc", "Real-looking accounts."),
    ],
)
def test_an_edit_on_the_service_page_reaches_the_list(staff, listed, services, changes, field, expected):
    followers = services[1]
    assert listed()[followers.pk][field] != expected
    staff.post(reverse("admin:catalog_service_change", args=[followers.pk]), _service_form(followers, **changes))
    assert listed()[followers.pk][field] == expected


def test_a_service_moved_to_another_category_is_listed_there(staff, listed, services):
    followers, views = services[1], services[4]
    assert listed()[followers.pk]["category"] == followers.category.name
    staff.post(reverse("admin:catalog_service_change", args=[followers.pk]),
               _service_form(followers, category=str(views.category_id)))  # fmt: skip
    assert listed()[followers.pk]["category"] == views.category.name != followers.category.name


def test_a_service_switched_off_on_its_page_leaves_the_list(staff, listed, services):
    followers = services[1]
    assert followers.pk in listed()
    staff.post(reverse("admin:catalog_service_change", args=[followers.pk]), _service_form(followers, is_active=""))
    assert followers.pk not in listed()


def test_an_edit_in_the_service_list_reaches_the_list(staff, listed, services):
    followers = services[1]
    assert listed()[followers.pk]["rate"] == "1.35"
    staff.post(_changelist("service"), {
        "form-TOTAL_FORMS": "1", "form-INITIAL_FORMS": "1", "form-0-id": str(followers.pk),
        "form-0-markup_percent": "", "form-0-fixed_rate": "3", "form-0-is_active": "on", "_save": "Save",
    })  # fmt: skip
    assert listed()[followers.pk]["rate"] == "3.00"


def test_the_set_markup_action_reaches_the_list(staff, listed, services):
    chosen = [services[1].pk, services[4].pk]
    assert listed()[chosen[0]]["rate"] == "1.35"
    staff.post(_changelist("service"), {"action": "set_markup", "_selected_action": chosen, "apply": "1",
                                        "markup_percent": "100"})  # fmt: skip
    answer = listed()
    assert [answer[pk]["rate"] for pk in chosen] == ["1.80", f"{services[4].upstream_rate * 2:.2f}"]


def test_the_disable_and_enable_actions_reach_the_list(staff, listed, services):
    followers = services[1].pk
    staff.post(_changelist("service"), {"action": "disable", "_selected_action": [followers]})
    assert followers not in listed()
    staff.post(_changelist("service"), {"action": "enable", "_selected_action": [followers]})
    assert listed()[followers]["rate"] == "1.35"


def test_a_deleted_service_leaves_the_list(staff, listed, services):
    followers = services[1].pk
    staff.post(reverse("admin:catalog_service_delete", args=[followers]), {"post": "yes"})
    assert followers not in listed() and not Service.objects.filter(pk=followers).exists()
    other = services[4].pk
    staff.post(_changelist("service"), {"action": "delete_selected", "_selected_action": [other], "post": "yes"})
    assert other not in listed()


def _category_form(category: Any, **changes: str) -> dict[str, str]:
    form = {
        "name": category.name,
        "position": str(category.position),
        "is_active": "on",
        "markup_percent": "" if category.markup_percent is None else str(category.markup_percent),
        **changes,
    }
    return {name: value for name, value in form.items() if value != "" or name != "is_active"}  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "field", "expected"),
    [({"markup_percent": "100"}, "rate", "1.80"), ({"name": "Instagram (best)"}, "category", "Instagram (best)")],
)
def test_an_edit_of_a_category_reaches_the_list(staff, listed, services, changes, field, expected):
    followers = services[1]
    assert listed()[followers.pk][field] != expected
    staff.post(reverse("admin:catalog_category_change", args=[followers.category_id]),
               _category_form(followers.category, **changes))  # fmt: skip
    assert listed()[followers.pk][field] == expected


def test_a_category_switched_off_takes_its_services_off_the_list(staff, listed, services):
    followers = services[1]
    assert followers.pk in listed()
    staff.post(reverse("admin:catalog_category_change", args=[followers.category_id]),
               _category_form(followers.category, is_active=""))  # fmt: skip
    answer = listed()
    assert followers.pk not in answer and answer, "the other categories stay"


def test_moving_a_category_first_moves_its_services_first(staff, listed, services):
    last = list(listed().values())[-1]
    category = Service.objects.get(pk=last["service"]).category
    staff.post(_changelist("category"), {
        "form-TOTAL_FORMS": "1", "form-INITIAL_FORMS": "1", "form-0-id": str(category.pk), "form-0-position": "-1",
        "form-0-is_active": "on", "form-0-markup_percent": "", "_save": "Save",
    })  # fmt: skip
    assert next(iter(listed().values()))["category"] == category.name


def _provider_form(provider: Any, **changes: str) -> dict[str, str]:
    form = {"name": provider.name, "api_url": provider.api_url, "api_key": "", "currency": provider.currency,
            "exchange_rate": str(provider.exchange_rate), "is_active": "on",
            "markup_percent": "" if provider.markup_percent is None else str(provider.markup_percent),
            "low_balance_threshold": "", **changes}  # fmt: skip
    return {name: value for name, value in form.items() if value != "" or name != "is_active"}


@pytest.mark.parametrize(
    ("changes", "expected"), [({"exchange_rate": "2"}, "2.70"), ({"markup_percent": "100"}, "1.80")]
)
def test_an_edit_of_the_provider_reaches_the_list(staff, listed, services, provider, changes, expected):
    assert listed()[services[1].pk]["rate"] == "1.35"
    staff.post(reverse("admin:catalog_provider_change", args=[provider.pk]), _provider_form(provider, **changes))
    assert listed()[services[1].pk]["rate"] == expected


def test_a_provider_switched_off_takes_its_services_off_the_list(staff, listed, services, provider):
    assert listed()
    staff.post(reverse("admin:catalog_provider_change", args=[provider.pk]), _provider_form(provider, is_active=""))
    assert listed() == {}
