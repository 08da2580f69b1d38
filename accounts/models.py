"""The panel's user model, custom from the first migration so that it can grow without a painful swap."""

from django.contrib.auth.models import AbstractUser


class User(AbstractUser):
    """A customer, or staff when `is_staff` is set."""
