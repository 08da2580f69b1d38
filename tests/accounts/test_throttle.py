"""Password checks outside the customer sign-in page: the admin's sign-in is throttled by the same pair rule."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.utils import timezone

from tests.factories import UserFactory

PASSWORD = "correct horse battery staple"
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.LOGIN_RATE_LIMIT, settings.AUTH_RATE_WINDOW = 5, 600


def _admin_sign_in(client: Client, password: str) -> int:
    response = client.post("/admin/login/?next=/admin/", {"username": "root", "password": password})
    return response.status_code


def test_it_locks_out_an_admin_brute_force_until_the_cool_off_ends():
    UserFactory.create(username="root", is_staff=True, is_superuser=True)
    attacker = Client(REMOTE_ADDR="10.9.0.1")
    answers = [_admin_sign_in(attacker, f"guess {number}") for number in range(5)]
    assert answers == [200, 200, 200, 200, 429]
    assert _admin_sign_in(attacker, PASSWORD) == 429 and "_auth_user_id" not in attacker.session
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(seconds=601))
    assert _admin_sign_in(attacker, PASSWORD) == 302 and attacker.session["_auth_user_id"]


def test_the_admin_lockout_is_per_address():
    UserFactory.create(username="root", is_staff=True, is_superuser=True)
    attacker = Client(REMOTE_ADDR="10.9.0.1")
    for number in range(5):
        _admin_sign_in(attacker, f"guess {number}")
    assert _admin_sign_in(Client(REMOTE_ADDR="10.9.0.2"), PASSWORD) == 302


def test_behind_a_trusted_proxy_the_lockout_follows_the_client(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    UserFactory.create(username="root", is_staff=True, is_superuser=True)
    proxy = Client(REMOTE_ADDR="10.9.0.3")
    for number in range(5):
        proxy.post("/admin/login/", {"username": "root", "password": f"{number}"}, HTTP_X_FORWARDED_FOR="1.1.1.1")
    locked = proxy.post("/admin/login/", {"username": "root", "password": PASSWORD}, HTTP_X_FORWARDED_FOR="1.1.1.1")
    assert locked.status_code == 429
    other = proxy.post("/admin/login/", {"username": "root", "password": PASSWORD}, HTTP_X_FORWARDED_FOR="2.2.2.2")
    assert other.status_code == 302
