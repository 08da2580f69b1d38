"""Who calls the staff API: `Authorization: Token <key>` with a staff token, nothing else (no session cookie,
no customer's API key)."""

from typing import Any

from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from accounts.models import User
from api.staff.tokens import staff_token_user


class StaffTokenAuthentication(TokenAuthentication):
    """DRF's token header parsing, with our hashed staff tokens behind it."""

    def authenticate_credentials(self, key: str) -> tuple[User, Any]:
        user = staff_token_user(key=key)
        if user is None:
            # One answer for an unknown token, a wrong secret and a user who is no longer active staff.
            raise exceptions.AuthenticationFailed("Invalid token, or its user is no longer active staff.")
        return user, None
