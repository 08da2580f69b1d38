"""Staff tokens: issued from the command line (`manage.py staff_token`), stored as a prefix and a hash of the
secret, as customers' API keys are (accounts.services)."""

import hashlib
import hmac
import re
import secrets

from django.db import transaction

from accounts.models import User
from api.models import StaffToken
from panel.errors import ApplicationError

PREFIX_LENGTH = 12
USER_FIELDS = ("id", "username", "is_active", "is_staff", "is_superuser")
# What staff_token_issue makes: a hex prefix, then a URL-safe secret.
TOKEN = re.compile(rf"[0-9a-f]{{{PREFIX_LENGTH}}}[A-Za-z0-9_-]+")


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def staff_token_issue(*, user: User) -> str:
    """A new staff token for an active staff member, shown this once; their previous token stops working."""
    if not (user.is_active and user.is_staff):
        raise ApplicationError("Only an active staff member can have a staff token.")
    prefix = secrets.token_hex(PREFIX_LENGTH // 2)
    secret = secrets.token_urlsafe(32)
    StaffToken.objects.update_or_create(user=user, defaults={"prefix": prefix, "secret_hash": _digest(secret)})
    return f"{prefix}{secret}"


def staff_token_user(*, key: str) -> User | None:
    """The active staff member this token belongs to, or None; read on every request, so that staff who lose
    is_staff (or are deactivated) lose the API at once. The secret is compared in constant time. A key that is
    not shaped as a token is none, without a look-up (a NUL byte in it cannot even be queried)."""
    if not TOKEN.fullmatch(key):
        return None
    token = (
        StaffToken.objects.select_related("user")
        # What the API reads of its user: never the password hash.
        .only("secret_hash", *(f"user__{name}" for name in USER_FIELDS))
        .filter(prefix=key[:PREFIX_LENGTH])
        .first()
    )
    if token is None or not hmac.compare_digest(token.secret_hash, _digest(key[PREFIX_LENGTH:])):
        return None
    user = token.user
    return user if user.is_active and user.is_staff else None
