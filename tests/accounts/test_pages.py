"""Sign-up, sign-in with its rate limit, password reset by email, the account page and the language switch."""

import re

import pytest
from django.core import mail
from django.test import Client

from accounts.models import User
from billing.models import Wallet
from tests.factories import UserFactory

PASSWORD = "correct horse battery staple"
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_rate_limits(settings):
    from django.core.cache import cache

    cache.clear()
    # The limits count in fixed windows: one that ends in the middle of a test (as one did at 19:35:00) would
    # start counting afresh. A window of days cannot end during a test.
    settings.AUTH_RATE_WINDOW = 10**6


def _signup(client, **changes):
    data = {"username": "carol", "email": "carol@example.com", "password": PASSWORD, "password_again": PASSWORD}
    return client.post("/accounts/signup/", {**data, **changes})


def test_it_signs_up_a_customer_with_a_wallet_and_signs_them_in(client):
    response = _signup(client)
    assert response.status_code == 302 and response["Location"] == "/"
    carol = User.objects.get(username="carol")
    assert not carol.is_staff and carol.check_password(PASSWORD) and Wallet.objects.get(user=carol).balance == 0
    home = client.get("/", follow=True)
    assert b"New order" in home.content and b"0.00 USD" in home.content


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"username": ""}, "username", "This field is required."),
        ({"username": "bad name!"}, "username", "Enter a valid username"),
        ({"email": "not-an-email"}, "email", "Enter a valid email address."),
        ({"password_again": "something else entirely"}, "password_again", "The two passwords differ."),
        ({"password": "short", "password_again": "short"}, "password", "too short"),
        ({"password": "carol@example", "password_again": "carol@example"}, "password", "too similar"),
    ],
)
def test_it_rejects_a_bad_signup_next_to_the_field(client, changes, field, message):
    response = _signup(client, **changes)
    assert response.status_code == 200
    errors = " ".join(response.context["form"].errors.get(field, []))
    assert message in errors
    assert not User.objects.filter(username=changes.get("username", "carol")).exists()


def test_it_rejects_a_taken_username_or_email(client):
    UserFactory.create(username="Carol", email="other@example.com")
    assert "already exists" in _signup(client).context["form"].errors["username"][0]
    taken_email = _signup(client, username="carol2", email="OTHER@example.com")
    assert "already uses" in taken_email.context["form"].errors["email"][0]
    assert User.objects.count() == 1


def test_it_limits_signups_per_address_and_says_so(client, settings):
    settings.SIGNUP_RATE_LIMIT = 2
    _signup(client, username="u1", email="u1@example.com")
    client.post("/accounts/logout/")
    _signup(client, username="u2", email="u2@example.com")
    client.post("/accounts/logout/")
    response = _signup(client, username="u3", email="u3@example.com")
    assert response.status_code == 429 and b"Too many attempts" in response.content
    assert not User.objects.filter(username="u3").exists()


def test_it_signs_in_and_out(client, alice):
    response = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get("/orders/new/").status_code == 200
    assert client.get("/accounts/logout/").status_code == 405  # signing out is a POST (with CSRF)
    client.post("/accounts/logout/")
    assert client.get("/orders/new/")["Location"].startswith("/accounts/login/")


def test_it_sends_anonymous_visitors_to_the_sign_in_page(client):
    assert client.get("/")["Location"] == "/accounts/login/"
    for path in ("/orders/new/", "/orders/mass/", "/account/"):
        assert client.get(path)["Location"] == f"/accounts/login/?next={path}"


def test_it_limits_sign_in_attempts_even_with_the_right_password(client, alice, settings):
    settings.LOGIN_RATE_LIMIT = 3
    for _ in range(2):
        assert client.post("/accounts/login/", {"username": "alice", "password": "wrong"}).status_code == 200
    # The failure that reaches the limit already locks the pair (django-axes' rule).
    assert client.post("/accounts/login/", {"username": "alice", "password": "wrong"}).status_code == 429
    response = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 429 and b"Too many attempts" in response.content
    assert "_auth_user_id" not in client.session


def test_a_locked_out_address_cannot_lock_the_customer_out(alice, settings):
    settings.LOGIN_RATE_LIMIT = 2
    attacker = Client(REMOTE_ADDR="10.0.0.1")
    for _ in range(2):
        attacker.post("/accounts/login/", {"username": "alice", "password": "x"})
    assert attacker.post("/accounts/login/", {"username": "alice", "password": PASSWORD}).status_code == 429
    alice_at_home = Client(REMOTE_ADDR="10.0.0.9")
    assert alice_at_home.post("/accounts/login/", {"username": "alice", "password": PASSWORD}).status_code == 302


@pytest.mark.parametrize("spelling", [" alice", "\talice", "ａｌｉｃｅ", "ALICE"])
def test_a_respelled_username_counts_in_the_same_bucket(alice, settings, spelling):
    settings.LOGIN_RATE_LIMIT = 3
    client = Client(REMOTE_ADDR="10.0.0.2")
    client.post("/accounts/login/", {"username": "alice", "password": "x"})
    client.post("/accounts/login/", {"username": spelling, "password": "x"})
    assert client.post("/accounts/login/", {"username": spelling, "password": "x"}).status_code == 429
    assert client.post("/accounts/login/", {"username": "alice", "password": PASSWORD}).status_code == 429


def test_a_blocked_sign_in_does_not_even_check_the_password(client, alice, settings):
    from django.contrib.auth.signals import user_login_failed

    settings.LOGIN_RATE_LIMIT = 1
    checked = []

    def receiver(**kwargs):
        checked.append(kwargs)

    user_login_failed.connect(receiver)
    try:
        client.post("/accounts/login/", {"username": "alice", "password": "wrong"})
        assert client.post("/accounts/login/", {"username": "alice", "password": "wrong"}).status_code == 429
    finally:
        user_login_failed.disconnect(receiver)
    assert len(checked) == 1


def test_only_failed_sign_ins_count_against_a_username(alice, settings):
    settings.LOGIN_RATE_LIMIT = 2
    for number in range(3):
        response = Client(REMOTE_ADDR=f"10.0.1.{number}").post(
            "/accounts/login/", {"username": "alice", "password": PASSWORD}
        )
        assert response.status_code == 302


def test_a_forged_forwarded_for_header_does_not_escape_the_limit(settings):
    settings.SIGNUP_RATE_LIMIT = 1
    client = Client(REMOTE_ADDR="10.0.2.1")
    first = {"username": "u1", "email": "u1@example.com", "password": PASSWORD, "password_again": PASSWORD}
    assert client.post("/accounts/signup/", first, HTTP_X_FORWARDED_FOR="1.1.1.1").status_code == 302
    client.post("/accounts/logout/")
    response = client.post(
        "/accounts/signup/",
        {"username": "u2", "email": "u2@example.com", "password": PASSWORD, "password_again": PASSWORD},
        HTTP_X_FORWARDED_FOR="2.2.2.2",
    )
    assert response.status_code == 429 and not User.objects.filter(username="u2").exists()


def test_behind_a_trusted_proxy_each_client_has_its_own_limit(settings):
    settings.SIGNUP_RATE_LIMIT, settings.TRUSTED_PROXY_COUNT = 1, 1
    proxy = Client(REMOTE_ADDR="10.0.3.1")
    data = {"password": PASSWORD, "password_again": PASSWORD}
    first = {"username": "u1", "email": "u1@example.com", **data}
    second = {"username": "u2", "email": "u2@example.com", **data}
    assert proxy.post("/accounts/signup/", first, HTTP_X_FORWARDED_FOR="forged, 1.1.1.1").status_code == 302
    proxy.post("/accounts/logout/")
    assert proxy.post("/accounts/signup/", second, HTTP_X_FORWARDED_FOR="forged, 2.2.2.2").status_code == 302
    proxy.post("/accounts/logout/")
    third = {"username": "u3", "email": "u3@example.com", **data}
    assert proxy.post("/accounts/signup/", third, HTTP_X_FORWARDED_FOR="other, 2.2.2.2").status_code == 429


def test_it_resets_a_password_by_email(client, alice):
    response = client.post("/accounts/password-reset/", {"email": "alice@example.com"})
    assert response["Location"] == "/accounts/password-reset/sent/"
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["alice@example.com"]
    link = re.search(r"http://testserver(/accounts/reset/\S+/)", mail.outbox[0].body).group(1)
    form_url = client.get(link)["Location"]  # Django swaps the token for a session-bound URL
    client.post(form_url, {"new_password1": "a brand new passphrase 7", "new_password2": "a brand new passphrase 7"})
    assert User.objects.get(username="alice").check_password("a brand new passphrase 7")
    assert b"This link has expired" in client.get(link, follow=True).content


def test_it_sends_no_mail_for_an_unknown_address_and_says_the_same(client):
    response = client.post("/accounts/password-reset/", {"email": "nobody@example.com"})
    assert response["Location"] == "/accounts/password-reset/sent/" and mail.outbox == []


def test_it_limits_reset_mails_per_address(client, alice, settings):
    settings.SIGNUP_RATE_LIMIT = 2
    for _ in range(2):
        client.post("/accounts/password-reset/", {"email": "alice@example.com"})
    response = client.post("/accounts/password-reset/", {"email": "alice@example.com"})
    assert response.status_code == 429 and b"Too many attempts" in response.content and len(mail.outbox) == 2


def test_it_saves_email_language_and_time_zone(client, alice):
    client.force_login(alice)
    response = client.post(
        "/account/",
        {"form": "profile", "email": "new@example.com", "current_password": PASSWORD, "language": "ja",
         "time_zone": "Asia/Tokyo"},
    )  # fmt: skip
    assert response.status_code == 302
    alice.refresh_from_db()
    assert (alice.email, alice.language, alice.time_zone) == ("new@example.com", "ja", "Asia/Tokyo")
    assert client.get("/account/").headers["Content-Language"] == "ja"


@pytest.mark.parametrize(
    ("changes", "field"),
    [({"time_zone": "Mars/Olympus"}, "time_zone"), ({"language": "xx"}, "language"), ({"email": "nope"}, "email")],
)
def test_it_rejects_bad_account_settings(client, alice, changes, field):
    client.force_login(alice)
    data = {"form": "profile", "email": "alice@example.com", "language": "", "time_zone": "UTC", **changes}
    response = client.post("/account/", data)
    assert response.status_code == 200 and response.context["profile"].errors[field]
    alice.refresh_from_db()
    assert (alice.time_zone, alice.language) == ("UTC", "")


def test_it_refuses_an_email_another_account_uses(client, alice, bob):
    client.force_login(alice)
    data = {"form": "profile", "email": bob.email, "current_password": PASSWORD, "language": "", "time_zone": "UTC"}
    assert "already uses" in client.post("/account/", data).context["profile"].errors["email"][0]


@pytest.mark.parametrize("password", ["", "wrong"])
def test_it_changes_the_email_only_with_the_current_password(client, alice, password):
    client.force_login(alice)
    data = {"form": "profile", "email": "new@example.com", "current_password": password, "language": "ja",
            "time_zone": "UTC"}  # fmt: skip
    response = client.post("/account/", data)
    assert response.status_code == 200 and response.context["profile"].errors["current_password"]
    alice.refresh_from_db()
    assert (alice.email, alice.language) == ("alice@example.com", "")


def test_it_keeps_other_settings_savable_without_the_password(client, alice):
    client.force_login(alice)
    data = {"form": "profile", "email": "ALICE@example.com", "language": "ja", "time_zone": "UTC"}
    assert client.post("/account/", data).status_code == 302
    alice.refresh_from_db()
    assert alice.language == "ja"


def test_it_throttles_password_checks_on_the_account_page(client, alice, settings):
    settings.LOGIN_RATE_LIMIT = 2
    client.force_login(alice)
    change = {"form": "password", "old_password": "wrong", "new_password1": "another passphrase 9",
              "new_password2": "another passphrase 9"}  # fmt: skip
    assert client.post("/account/", change).status_code == 200
    email = {"form": "profile", "email": "new@example.com", "current_password": "wrong", "language": "",
             "time_zone": "UTC"}  # fmt: skip
    assert client.post("/account/", email).status_code == 429
    response = client.post("/account/", {**change, "old_password": PASSWORD})
    assert response.status_code == 429 and b"Too many attempts" in response.content
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD) and alice.email == "alice@example.com"


def test_it_changes_the_password_and_keeps_the_session(client, alice):
    client.force_login(alice)
    data = {"form": "password", "old_password": PASSWORD, "new_password1": "another passphrase 9",
            "new_password2": "another passphrase 9"}  # fmt: skip
    assert client.post("/account/", data).status_code == 302
    alice.refresh_from_db()
    assert alice.check_password("another passphrase 9") and client.get("/account/").status_code == 200
    data["old_password"] = "wrong"
    assert client.post("/account/", data).context["password"].errors["old_password"]


def test_the_language_switch_works_signed_out_and_is_remembered_signed_in(client, alice):
    response = client.post("/language/", {"language": "ja", "next": "/accounts/login/"})
    assert response["Location"] == "/accounts/login/"
    assert client.get("/accounts/login/").headers["Content-Language"] == "ja"
    client.force_login(alice)
    client.post("/language/", {"language": "en", "next": "https://evil.example.com/"})
    alice.refresh_from_db()
    assert alice.language == "en"
    assert client.post("/language/", {"language": "ja", "next": "https://evil.example.com/"})["Location"] == "/"


def test_every_account_form_needs_the_csrf_token(alice):
    client = Client(enforce_csrf_checks=True)
    assert client.post("/accounts/signup/", {"username": "x"}).status_code == 403
    assert client.post("/accounts/login/", {"username": "alice", "password": PASSWORD}).status_code == 403
    client.force_login(alice)
    data = {"form": "profile", "email": "evil@example.com", "language": "", "time_zone": "UTC"}
    assert client.post("/account/", data).status_code == 403
    assert client.post("/language/", {"language": "ja"}).status_code == 403
    alice.refresh_from_db()
    assert alice.email == "alice@example.com" and alice.language == ""
