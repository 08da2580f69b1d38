"""Writes to accounts."""

from django.db import transaction

from accounts.models import User


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
