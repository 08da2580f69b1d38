"""Writes to accounts: users and their API keys."""

import hashlib
import hmac
import secrets

from django.contrib.auth.password_validation import validate_password
from django.db import transaction

from accounts.models import ApiKey, User
from billing.models import Wallet
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
    Wallet.objects.get_or_create(user=user)
    return user


@transaction.atomic
def customer_create(*, username: str, email: str, password: str | None = None) -> User:
    """A new customer (not staff); without a password they cannot log in until one is set."""
    if User.objects.filter(username__iexact=username).exists():
        raise ApplicationError(f"A user named {username!r} already exists.")
    user = User(username=username, email=email)
    user.full_clean(exclude=["password"])
    if password:
        validate_password(password, user)
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    Wallet.objects.create(user=user)
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


def api_key_user(*, key: str) -> User | None:
    """The active user this key belongs to, or None; the secret is compared in constant time."""
    if len(key) <= KEY_PREFIX_LENGTH:
        return None
    api_key = ApiKey.objects.select_related("user").filter(prefix=key[:KEY_PREFIX_LENGTH]).first()
    if api_key is None or not hmac.compare_digest(api_key.secret_hash, _digest(key[KEY_PREFIX_LENGTH:])):
        return None
    return api_key.user if api_key.user.is_active else None
