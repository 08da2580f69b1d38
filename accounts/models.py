"""The panel's user model, custom from the first migration so that it can grow without a painful swap."""

from decimal import Decimal

from django.conf import settings
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
    # Empty: the language the browser asks for (or the one chosen with the switch) applies.
    language = models.CharField(max_length=10, choices=settings.LANGUAGES, blank=True)
    time_zone = models.CharField(max_length=64, default="UTC", help_text="Dates on the customer's pages use it.")


class ApiKey(models.Model):
    """A customer's API key: only a prefix (to find it) and a SHA-256 of the secret are stored."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="api_key")
    prefix = models.CharField(max_length=16, unique=True)
    secret_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"
