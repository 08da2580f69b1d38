"""What the customer pages' menu shows of support: how many tickets have a reply the customer has not read."""

from collections.abc import Callable

from django.http import HttpRequest

from accounts.models import User
from support.selectors import tickets_unread_count


def support(request: HttpRequest) -> dict[str, Callable[[], int]]:
    user = request.user
    if not isinstance(user, User):
        return {}
    # Called by the template that shows it only: the admin's pages never count.
    return {"tickets_unread": lambda: tickets_unread_count(user=user)}
