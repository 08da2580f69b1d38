"""Writes to accounts."""

from django.contrib.auth.password_validation import validate_password
from django.db import transaction

from accounts.models import User
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
