"""What customers are told about their orders (an order or a refill ended), and which of it they get by email."""

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from orders.models import Order, Refill
from panel.money import AMOUNT_DIGITS, AMOUNT_PLACES

AMOUNT: dict[str, Any] = {"max_digits": AMOUNT_DIGITS, "decimal_places": AMOUNT_PLACES}


class Notification(models.Model):
    """One event for one customer. It keeps the facts (order, status, refund), never a text, so that each page and
    email words it in its reader's language."""

    class Kind(models.TextChoices):
        ORDER_ENDED = "order_ended", "order ended"
        REFILL_ENDED = "refill_ended", "refill ended"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="+")
    refill = models.ForeignKey(Refill, on_delete=models.CASCADE, related_name="+", null=True, blank=True)
    status = models.CharField(max_length=20, help_text="The final status of the order or the refill.")
    refund = models.DecimalField(default=0, help_text="What the order's end gave back, as the ledger has it.", **AMOUNT)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)
    # Set while an email is being sent or once it went; an email the customer does not want leaves it empty.
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            # Exactly once per event, whoever ends it (pollers, operators, a customer's cancel) and however often.
            models.UniqueConstraint(
                fields=["order"], condition=Q(kind="order_ended"), name="notification_one_per_order_end"
            ),
            models.UniqueConstraint(
                fields=["refill"], condition=Q(kind="refill_ended"), name="notification_one_per_refill_end"
            ),
            models.CheckConstraint(
                condition=Q(kind="order_ended", refill__isnull=True) | Q(kind="refill_ended", refill__isnull=False),
                name="notification_refill_only_of_refills",
            ),
            models.CheckConstraint(condition=Q(refund__gte=0), name="notification_refund_not_negative"),
        ]
        indexes = [
            models.Index(fields=["user", "-id"], name="notification_user_newest"),
            # The header's unread count, on every page: the unread ones are a small part of all.
            models.Index(fields=["user"], condition=Q(read_at__isnull=True), name="notification_unread"),
        ]

    def __str__(self) -> str:
        return f"Notification {self.pk} ({self.kind} of order {self.order_id})"


class NotificationPreferences(models.Model):
    """Which notifications a customer also gets by email, by where the order was placed (a page, or API v2, whose
    clients mostly follow orders themselves). One row per customer, made when they first save their choice."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preferences"
    )
    email_web_orders = models.BooleanField(default=True)
    email_api_orders = models.BooleanField(default=False)
    email_web_refills = models.BooleanField(default=True)
    email_api_refills = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "notification preferences"

    def __str__(self) -> str:
        return f"Notification preferences of {self.user}"

    def emails(self, *, kind: str, origin: str) -> bool:
        """Whether a notification of this kind, about an order placed there, is also emailed."""
        web = origin == Order.Origin.WEB
        if kind == Notification.Kind.ORDER_ENDED:
            return self.email_web_orders if web else self.email_api_orders
        return self.email_web_refills if web else self.email_api_refills
