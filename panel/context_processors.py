"""What every customer page shows: the balance, the currency and the language switch."""

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from billing.selectors import wallet_balance


def panel(request: HttpRequest) -> dict[str, Any]:
    user = request.user
    balance = wallet_balance(user_id=user.pk) if user.is_authenticated else None
    return {"balance": balance, "currency": settings.PANEL_CURRENCY}
