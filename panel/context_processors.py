"""What every customer page shows: the balance, the currency and the language switch."""

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from billing.models import Wallet


def panel(request: HttpRequest) -> dict[str, Any]:
    user = request.user
    balance = None
    if user.is_authenticated:
        balance = Wallet.objects.filter(user_id=user.pk).values_list("balance", flat=True).first() or 0
    return {"balance": balance, "currency": settings.PANEL_CURRENCY}
