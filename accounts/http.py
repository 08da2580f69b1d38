"""The signed-in user of a request, typed: the one way views (behind login_required) and admin actions get it."""

from django.http import HttpRequest

from accounts.models import User


def signed_in(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User), "only for a signed-in user"
    return user
