"""Reads of notifications, always scoped to one customer."""

from django.db.models import QuerySet

from accounts.models import User
from notifications.models import Notification, NotificationPreferences

# The header shows "99+" past this: counting further costs a page more than it tells.
UNREAD_SHOWN = 99


def notifications_for_user(*, user: User) -> QuerySet[Notification]:
    """The customer's notifications, newest first."""
    return Notification.objects.filter(user=user).order_by("-pk")


def unread_count(*, user_id: int) -> int:
    """How many of the customer's notifications are unread, up to UNREAD_SHOWN + 1: one small indexed query."""
    unread = Notification.objects.filter(user_id=user_id, read_at__isnull=True)
    return unread.values("pk")[: UNREAD_SHOWN + 1].count()


def notification_preferences_of(*, user: User) -> NotificationPreferences:
    """The customer's email choices; the defaults (unsaved) until they first save theirs."""
    return NotificationPreferences.objects.filter(user=user).first() or NotificationPreferences(user=user)
