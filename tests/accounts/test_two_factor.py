"""Two-factor sign-in: staff must enrol a TOTP app before the admin opens; customers may turn it on."""

import re

import pytest
from django.core.management import call_command
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.factories import TOTPDeviceFactory, UserFactory

PASSWORD = "correct horse battery staple"
pytestmark = pytest.mark.django_db


def _code(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


@pytest.fixture
def olivia(db):
    return UserFactory.create(username="olivia", is_staff=True, is_superuser=True)


def _admin_sign_in(client: Client) -> None:
    response = client.post("/admin/login/?next=/admin/", {"username": "olivia", "password": PASSWORD})
    assert response.status_code == 302


def test_staff_without_a_device_are_sent_to_enrol_before_the_admin_opens(client, olivia):
    _admin_sign_in(client)
    response = client.get("/admin/")
    assert response.status_code == 302 and response["Location"] == "/accounts/two-factor/?next=/admin/"
    assert client.get("/admin/catalog/service/")["Location"].startswith("/accounts/two-factor/")
    page = client.get(response["Location"])
    assert page.status_code == 200 and b"<svg" in page.content
    assert b"otpauth" not in page.content  # drawn here, not by a QR service the secret would be sent to


def test_enrolling_with_a_valid_code_opens_the_admin_and_shows_backup_codes_once(client, olivia):
    _admin_sign_in(client)
    client.get("/accounts/two-factor/?next=/admin/")
    device = TOTPDevice.objects.get(user=olivia, confirmed=False)
    page = client.post("/accounts/two-factor/", {"code": _code(device), "next": "/admin/"})
    assert page.status_code == 200
    codes = re.findall(r"<li><code>(\w+)</code></li>", page.content.decode())
    assert len(codes) == 10
    assert set(StaticDevice.objects.get(user=olivia).token_set.values_list("token", flat=True)) == set(codes)
    assert client.get("/admin/").status_code == 200
    assert client.get("/accounts/two-factor/?next=/admin/")["Location"] == "/admin/"


def test_it_refuses_a_wrong_code(client, olivia):
    _admin_sign_in(client)
    client.get("/accounts/two-factor/")
    device = TOTPDevice.objects.get(user=olivia)
    wrong = f"{(int(_code(device)) + 1) % 10**6:06d}"
    page = client.post("/accounts/two-factor/", {"code": wrong, "next": "/admin/"})
    assert page.status_code == 200 and b"not right" in page.content
    assert not TOTPDevice.objects.get(pk=device.pk).confirmed
    assert client.get("/admin/").status_code == 302


def test_a_backup_code_signs_in_once(olivia):
    TOTPDeviceFactory.create(user=olivia)
    backup = StaticDevice.objects.create(user=olivia, name="Backup codes")
    backup.token_set.create(token="abcd2345")
    for expected in (302, 200):
        client = Client()
        _admin_sign_in(client)
        assert client.get("/admin/").status_code == 302
        response = client.post("/accounts/two-factor/", {"code": "abcd2345", "next": "/admin/"})
        assert response.status_code == expected
        assert client.get("/admin/").status_code == (200 if expected == 302 else 302)


def test_the_reset_command_removes_every_device(olivia, bob):
    TOTPDeviceFactory.create(user=olivia)
    StaticDevice.objects.create(user=olivia, name="Backup codes")
    TOTPDeviceFactory.create(user=bob)
    call_command("reset_two_factor", "olivia")
    assert not TOTPDevice.objects.filter(user=olivia).exists() and not StaticDevice.objects.filter(user=olivia)
    assert TOTPDevice.objects.filter(user=bob).exists()
    client = Client()
    _admin_sign_in(client)
    assert client.get("/admin/")["Location"].startswith("/accounts/two-factor/")


def test_a_customer_without_totp_signs_in_with_the_password_alone(client, alice):
    client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert client.get("/orders/new/").status_code == 200


def test_a_customer_may_turn_totp_on_and_is_then_asked_for_the_code(client, alice):
    client.force_login(alice)
    assert b"Turn on two-factor sign-in" in client.get("/account/").content
    client.get("/accounts/two-factor/?next=/account/")
    device = TOTPDevice.objects.get(user=alice)
    assert client.post("/accounts/two-factor/", {"code": _code(device), "next": "/account/"}).status_code == 200
    assert client.get("/orders/new/").status_code == 200
    client.post("/accounts/logout/")

    client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    asked = client.get("/orders/new/")
    assert asked.status_code == 302 and asked["Location"] == "/accounts/two-factor/?next=/orders/new/"
    assert client.post("/accounts/two-factor/", {"code": "000000", "next": "/orders/new/"}).status_code == 200
    assert client.get("/orders/new/").status_code == 302


def test_the_code_page_is_in_japanese(client, alice):
    TOTPDeviceFactory.create(user=alice)
    client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    client.post("/language/", {"language": "ja", "next": "/"})
    assert "認証アプリ" in client.get("/accounts/two-factor/").content.decode()


def _with_totp(client: Client, user) -> TOTPDevice:
    from tests.factories import second_factor_confirmed

    device = TOTPDeviceFactory.create(user=user)
    client.force_login(user)
    second_factor_confirmed(client, user)
    return device


def test_a_customer_turns_totp_off_with_the_password_and_a_current_code(client, alice):
    device = _with_totp(client, alice)
    assert b"Turn off two-factor sign-in" in client.get("/account/").content
    off = {"form": "two_factor_off", "current_password": PASSWORD, "code": _code(device)}
    assert client.post("/account/", off)["Location"] == "/account/"
    assert not TOTPDevice.objects.filter(user=alice).exists()
    client.post("/accounts/logout/")
    client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert client.get("/orders/new/").status_code == 200  # the password alone again


@pytest.mark.parametrize("wrong", ["password", "code"])
def test_it_keeps_totp_on_without_the_right_password_and_code(client, alice, wrong):
    device = _with_totp(client, alice)
    off = {"form": "two_factor_off", "current_password": PASSWORD, "code": _code(device)}
    off["current_password" if wrong == "password" else "code"] = "not-it" if wrong == "password" else "000000"
    response = client.post("/account/", off)
    assert response.status_code == 200 and b"The password or the code is not right." in response.content
    assert TOTPDevice.objects.filter(user=alice).exists()


def test_staff_cannot_turn_their_second_factor_off(client, olivia):
    device = _with_totp(client, olivia)
    assert b"Turn off two-factor sign-in" not in client.get("/account/").content
    client.post("/account/", {"form": "two_factor_off", "current_password": PASSWORD, "code": _code(device)})
    assert TOTPDevice.objects.filter(user=olivia).exists()


@pytest.mark.parametrize("target", ["undefined", "orders", "https://evil.example/"])
def test_after_the_code_a_next_that_is_no_path_of_the_site_goes_to_the_account_page(client, alice, target):
    # Found by the fuzz (tests/fuzz/test_web_forms.py): "undefined" was looked up as a view's name, a 500.
    _with_totp(client, alice)
    response = client.post("/accounts/two-factor/", {"code": "000000", "next": target})
    assert (response.status_code, response["Location"]) == (302, "/account/")


@pytest.mark.parametrize("code", ["12\x0034", "１２３４５６", "abc'--", "9" * 100])
def test_a_code_of_characters_no_code_has_is_refused_without_a_look_up(client, alice, code):
    # Found by a review of the fuzz: a NUL byte reached the backup codes' query (a DataError, a 500).
    device = _with_totp(client, alice)
    backup = StaticDevice.objects.create(user=alice, name="Backup codes", confirmed=True)
    backup.token_set.create(token="abcd2345")
    client.post("/accounts/logout/")
    client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    refused = client.post("/accounts/two-factor/", {"code": code, "next": "/orders/new/"})
    assert refused.status_code == 200 and client.get("/orders/new/").status_code == 302
    off = client.post("/account/", {"form": "two_factor_off", "current_password": PASSWORD, "code": code})
    assert off.status_code in (200, 302) and TOTPDevice.objects.filter(user=alice).exists()
    assert client.post("/accounts/two-factor/", {"code": "abcd 2345", "next": "/orders/new/"}).status_code == 302
    assert client.get("/orders/new/").status_code == 200 and device.user == alice
