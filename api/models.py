"""The staff API's credentials. A staff token is a table of its own, apart from customers' API keys, so that no
customer key can ever open the staff API, whatever it looks like."""

from django.conf import settings
from django.db import models


class StaffToken(models.Model):
    """A staff member's token for the staff API: only a prefix (to find it) and a SHA-256 of the secret are
    stored. One per user: issuing a new one replaces it."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_token")
    prefix = models.CharField(max_length=16, unique=True)
    secret_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "staff API token"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"
