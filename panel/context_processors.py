"""What every customer page shows: the balance, the currency, the unread notifications and the language switch."""

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from billing.selectors import wallet_balance
from notifications.selectors import UNREAD_SHOWN, unread_count


def panel(request: HttpRequest) -> dict[str, Any]:
    user = request.user
    balance = wallet_balance(user_id=user.pk) if user.is_authenticated else None
    unread = unread_count(user_id=user.pk) if user.is_authenticated else 0
    return {
        "balance": balance,
        "currency": settings.PANEL_CURRENCY,
        "unread_notifications": unread,
        "unread_shown": UNREAD_SHOWN,
    }
