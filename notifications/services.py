"""Writes of notifications: record that orders and refills ended (exactly once each, a whole polled chunk in a
few queries), email them after commit to the customers who want it, mark them read, save the email choices."""

import logging
from collections.abc import Collection, Iterable
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction
from django.utils import timezone, translation

from accounts.models import User
from billing.models import LedgerEntry
from notifications.models import Notification, NotificationPreferences
from notifications.texts import notification_body, notification_subject
from orders.models import Order, Refill
from panel.db import rows_insert

logger = logging.getLogger(__name__)

Kind = Notification.Kind
_FIELDS = ["user", "kind", "order", "refill", "status", "refund", "created_at"]


class Ended(Protocol):
    """What telling of an order's end reads of it: a model instance, or a row a poll read."""

    @property
    def pk(self) -> int: ...
    @property
    def user_id(self) -> int: ...

    status: str


def _insert(rows: list[tuple[int, str, int, int | None, str, Decimal, datetime]]) -> list[int]:
    """One INSERT that skips the events told already (the unique constraints decide, also against a transaction
    running now); the new rows' emails go out after commit, one task for them all."""
    created = rows_insert(Notification, _FIELDS, rows, skip_conflicts=True)
    if created:
        from notifications.tasks import email_notifications  # the tasks module imports this one: bound at call time

        # robust: the caller has committed (money moved, orders closed); a broker that is down must not undo that.
        transaction.on_commit(lambda: email_notifications.delay(created), robust=True)
    return created


def orders_ended_notify(*, orders: Iterable[Ended]) -> list[int]:
    """Tell the customers of these orders (the final ones among them) that they ended, with the refund their
    ledger shows: two queries however many there are, in the caller's transaction. Returns the new ids."""
    ended = {order.pk: order for order in orders if order.status in Order.FINAL}
    if not ended:
        return []
    refunds = dict(
        LedgerEntry.objects.filter(order_id__in=list(ended), kind=LedgerEntry.Kind.REFUND).values_list(
            "order_id", "amount"
        )
    )
    now = timezone.now()
    return _insert([
        (order.user_id, Kind.ORDER_ENDED, pk, None, order.status, refunds.get(pk, Decimal(0)), now)
        for pk, order in ended.items()
    ])  # fmt: skip


def refills_ended_notify(*, refill_ids: Collection[int]) -> list[int]:
    """Tell the customers of these refills (the final ones among them) that they ended: two queries however many
    there are, in the caller's transaction. Returns the new ids."""
    if not refill_ids:
        return []
    ended = Refill.objects.filter(pk__in=list(refill_ids), status__in=Refill.FINAL).values_list(
        "pk", "order_id", "order__user_id", "status"
    )
    now = timezone.now()
    return _insert([
        (user_id, Kind.REFILL_ENDED, order_id, pk, status, Decimal(0), now)
        for pk, order_id, user_id, status in ended
    ])  # fmt: skip


def _wanted(notification: Notification) -> bool:
    user = notification.user
    if not (user.is_active and user.email):
        return False
    try:
        preferences = user.notification_preferences
    except NotificationPreferences.DoesNotExist:
        preferences = NotificationPreferences(user=user)
    return preferences.emails(kind=notification.kind, origin=notification.order.origin)


def _claim(notification_ids: list[int]) -> list[Notification]:
    """The notifications among these that their customers want by email and that no run has sent or is sending,
    claimed for this run (two runs, or a redelivered task, never send one twice)."""
    with transaction.atomic():
        unsent = list(
            Notification.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(pk__in=notification_ids, emailed_at__isnull=True)
            .select_related("user__notification_preferences", "order__service")
            .order_by("pk")
        )
        wanted = [notification for notification in unsent if _wanted(notification)]
        Notification.objects.filter(pk__in=[n.pk for n in wanted]).update(emailed_at=timezone.now())
    return wanted


def _email(notification: Notification, connection: BaseEmailBackend) -> EmailMessage:
    user = notification.user
    with translation.override(user.language or settings.LANGUAGE_CODE):
        subject, body = notification_subject(notification), notification_body(notification)
    return EmailMessage(subject=subject, body=body, to=[user.email], connection=connection)


def notifications_email(*, notification_ids: list[int]) -> int:
    """Email each of these notifications that its customer switched on, once, in the customer's language; how
    many went. A mail server's failure propagates (the task tries again later) after giving back the unsent."""
    claimed = _claim(notification_ids)
    sent: set[int] = set()
    try:
        if claimed:
            with get_connection() as connection:
                for notification in claimed:
                    _email(notification, connection).send()
                    sent.add(notification.pk)
    finally:
        unsent = [notification.pk for notification in claimed if notification.pk not in sent]
        if unsent:
            Notification.objects.filter(pk__in=unsent).update(emailed_at=None)
    return len(sent)


def notifications_mark_read(*, user: User, up_to: int) -> int:
    """Mark the customer's unread notifications read, those up to the newest they were shown (not one that
    arrived since); how many."""
    unread = Notification.objects.filter(user=user, read_at__isnull=True, pk__lte=up_to)
    return unread.update(read_at=timezone.now())


def notification_preferences_set(
    *, user: User, email_web_orders: bool, email_api_orders: bool, email_web_refills: bool, email_api_refills: bool
) -> NotificationPreferences:
    """Save which notifications the customer gets by email."""
    preferences, _ = NotificationPreferences.objects.update_or_create(
        user=user,
        defaults={
            "email_web_orders": email_web_orders,
            "email_api_orders": email_api_orders,
            "email_web_refills": email_web_refills,
            "email_api_refills": email_api_refills,
        },
    )
    return preferences
