"""Writes to accounts: users and their API keys."""

import functools
import hashlib
import hmac
import secrets
import zoneinfo

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.db import connection, transaction
from django.utils.translation import gettext_noop

from accounts.models import ApiKey, User
from panel.db import instance_from_columns
from panel.errors import ApplicationError


@transaction.atomic
def user_ensure(*, username: str, email: str, password: str, superuser: bool = False) -> User:
    """Create the user, or reset an existing one's password: running it again never fails."""
    user = User.objects.select_for_update().filter(username=username).first() or User(username=username)
    user.email = email
    user.is_staff = user.is_superuser = superuser
    user.is_active = True
    user.set_password(password)
    user.save()
    return user


def _email_free(email: str, user: User | None = None) -> None:
    # Password resets go to an address: two accounts on one address would both get the link.
    others = User.objects.filter(email__iexact=email)
    if user is not None:
        others = others.exclude(pk=user.pk)
    if email and others.exists():
        raise ApplicationError(gettext_noop("Another account already uses this email address."), field="email")


@transaction.atomic
def customer_create(
    *,
    username: str,
    email: str,
    password: str | None = None,
    language: str = "",
    time_zone: str = "UTC",
    referral_code: str = "",
) -> User:
    """A new customer (not staff); without a password they cannot log in until one is set. `referral_code`: the
    referral link they came through, whose owner referred them (an unknown code refers nobody)."""
    if User.objects.filter(username__iexact=username).exists():
        raise ApplicationError(
            gettext_noop("A user named %(username)s already exists."), field="username", username=username
        )
    _email_free(email)
    user = User(username=username, email=email, language=language, time_zone=time_zone)
    user.full_clean(exclude=["password"])
    if password:
        validate_password(password, user)
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    if referral_code:
        from billing.affiliates.services import referral_record  # billing's models import accounts'

        referral_record(referred=user, code=referral_code)
    return user


KEY_PREFIX_LENGTH = 12


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def api_key_issue(*, user: User) -> str:
    """A new API key for the user, shown this once; the previous key stops working at the same moment."""
    prefix = secrets.token_hex(KEY_PREFIX_LENGTH // 2)
    secret = secrets.token_urlsafe(32)
    ApiKey.objects.update_or_create(user=user, defaults={"prefix": prefix, "secret_hash": _digest(secret)})
    return f"{prefix}{secret}"


# What the key lookup reads besides the user's own columns (names of the extra columns of its query).
_SECRET, _WALLET, _BALANCE, _DEBT = "api_key_secret_hash", "api_wallet_id", "api_wallet_balance", "api_wallet_debt"


@functools.cache
def _key_lookup() -> str:
    """The user of a key prefix, the key's hash and the user's wallet, in one query. Written out: the ORM takes
    longer to build this join than Postgres takes to run it, and every API request runs it."""
    from billing.models import Wallet  # billing's models import accounts'

    quote = connection.ops.quote_name
    user, key, wallet = (quote(model._meta.db_table) for model in (User, ApiKey, Wallet))
    # Only the models' own table names, quoted, go into the text; the prefix is a parameter.
    return (
        f"SELECT u.*, k.secret_hash AS {_SECRET}, w.id AS {_WALLET}, w.balance AS {_BALANCE}, "  # noqa: S608  # nosec B608 - quoted identifiers, no values
        f"w.debt AS {_DEBT} FROM {user} u JOIN {key} k ON k.user_id = u.id "
        f"LEFT JOIN {wallet} w ON w.user_id = u.id WHERE k.prefix = %s"
    )


def api_key_user(*, key: str) -> User | None:
    """The active user this key belongs to, or None; the secret is compared in constant time.

    One query, which reads the user's wallet along (user.wallet): an API request needs no other to answer `balance`.
    """
    if len(key) <= KEY_PREFIX_LENGTH or not (key.isascii() and key.isprintable()):
        return None  # not one of ours, whatever it is (a NUL byte would not even reach the query)
    user = next(iter(User.objects.raw(_key_lookup(), [key[:KEY_PREFIX_LENGTH]])), None)
    if user is None or not hmac.compare_digest(getattr(user, _SECRET), _digest(key[KEY_PREFIX_LENGTH:])):
        return None
    if getattr(user, _WALLET) is not None:
        from billing.models import Wallet

        user.wallet = instance_from_columns(
            Wallet,
            user._state.db or "default",
            {"id": getattr(user, _WALLET), "user": user.pk, "balance": getattr(user, _BALANCE),
             "debt": getattr(user, _DEBT)},
        )  # fmt: skip
    return user if user.is_active else None


def account_update(*, user: User, email: str, language: str, time_zone: str) -> User:
    """Save a customer's own settings: email, page language ("" follows the browser) and time zone."""
    if language and language not in dict(settings.LANGUAGES):
        raise ApplicationError(gettext_noop("Choose a language from the list."), field="language")
    if time_zone not in zoneinfo.available_timezones():
        raise ApplicationError(gettext_noop("Choose a time zone from the list."), field="time_zone")
    _email_free(email, user)
    user.email, user.language, user.time_zone = email, language, time_zone
    user.save(update_fields=["email", "language", "time_zone"])
    return user


def user_language_set(*, user: User, language: str) -> None:
    """The language switch, for a signed-in customer: remembered with their account."""
    if language in dict(settings.LANGUAGES):
        User.objects.filter(pk=user.pk).update(language=language)
