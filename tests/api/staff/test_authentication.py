"""Only a staff token opens the staff API: no session cookie, no customer's API key, nobody who is not (or no
longer) active staff; every refusal is JSON."""

import pytest
from django.test import Client

from accounts.models import User
from accounts.services import api_key_issue
from tests.api.staff.conftest import V1, StaffClient, client_of, staff_member
from tests.factories import second_factor_confirmed

pytestmark = pytest.mark.django_db


def _refused(response, status: int = 401) -> str:
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    detail: str = response.json()["detail"]
    return detail


def test_it_asks_for_a_token():
    detail = _refused(StaffClient(None).get("orders/"))
    assert detail == "Authentication credentials were not provided."
    assert StaffClient(None).get("orders/")["WWW-Authenticate"] == "Token"


def test_it_refuses_unknown_and_malformed_tokens():
    assert "Invalid token" in _refused(StaffClient("Token 0123456789abcdefghijklmnopqrstuvwxyz").get("orders/"))
    assert "No credentials provided" in _refused(StaffClient("Token").get("orders/"))
    assert "should not contain spaces" in _refused(StaffClient("Token a b").get("orders/"))


@pytest.mark.parametrize("token", ["0123456789\x00b-secret", "\x00" * 40, "0123456789abc\u00e9", "0123456789AB-secret"])
def test_it_refuses_a_token_of_characters_no_token_has(token):
    """A NUL byte in the token answered a 500 (PostgreSQL cannot take one in a query): now it is an invalid token."""
    assert "Invalid token" in _refused(StaffClient(f"Token {token}").get("orders/"))


def test_it_refuses_a_customers_api_v2_key(alice):
    key = api_key_issue(user=alice)
    assert "Invalid token" in _refused(StaffClient(f"Token {key}").get("orders/"))


def test_it_refuses_a_staff_members_api_v2_key():
    root = staff_member("root", superuser=True)
    key = api_key_issue(user=root)
    assert "Invalid token" in _refused(StaffClient(f"Token {key}").get("orders/"))


def test_it_refuses_a_signed_in_admin_session():
    root = staff_member("root", superuser=True)
    client = Client()
    client.force_login(root)
    second_factor_confirmed(client, root)
    assert client.get("/admin/orders/order/").status_code == 200
    assert _refused(client.get(f"{V1}orders/")) == "Authentication credentials were not provided."


def test_staff_who_lose_is_staff_or_are_deactivated_lose_access_at_once():
    sue = staff_member("sue", role="Support")
    client = client_of(sue)
    assert client.get("orders/").status_code == 200
    User.objects.filter(pk=sue.pk).update(is_staff=False)
    assert "no longer active staff" in _refused(client.get("orders/"))
    User.objects.filter(pk=sue.pk).update(is_staff=True, is_active=False)
    assert "no longer active staff" in _refused(client.get("orders/"))
    User.objects.filter(pk=sue.pk).update(is_active=True)
    assert client.get("orders/").status_code == 200


def test_staff_without_a_role_may_do_nothing():
    client = client_of(staff_member("newcomer"))
    for path in ("orders/", "customers/", "wallets/", "deposits/", "services/"):
        assert _refused(client.get(path), 403) == "You do not have permission to perform this action."


def test_another_scheme_is_not_a_token():
    sue = staff_member("sue", role="Support")
    client = client_of(sue)
    bearer = StaffClient(client.headers["authorization"].replace("Token", "Bearer"))
    assert _refused(bearer.get("orders/")) == "Authentication credentials were not provided."


def test_a_staff_session_before_its_second_factor_gets_json_too():
    root = staff_member("root", superuser=True)
    client = Client()
    client.force_login(root)
    assert client.get("/admin/").status_code == 302  # the admin sends it to the code page
    assert _refused(client.get(f"{V1}orders/")) == "Authentication credentials were not provided."
