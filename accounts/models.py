"""The panel's user model, custom from the first migration so that it can grow without a painful swap."""

from decimal import Decimal

from django.contrib.auth.models import AbstractUser
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models


class User(AbstractUser):
    """A customer, or staff when `is_staff` is set."""

    discount_percent = models.DecimalField(
        "discount %",
        max_digits=5,
        decimal_places=2,
        default=Decimal(0),
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(100))],
        help_text="Taken off every order's price, never below our cost.",
    )
