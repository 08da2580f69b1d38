"""Support tickets: a customer's question (about their orders, a payment or anything else), the conversation with
staff, and the canned replies staff answer with."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from orders.models import Order

SUBJECT_MAX_LENGTH = 150
BODY_MAX_LENGTH = 5000


class Ticket(models.Model):
    class Kind(models.TextChoices):
        REFILL = "refill", _("Refill an order")
        CANCEL = "cancel", _("Cancel an order")
        SPEED_UP = "speed_up", _("Speed up an order")
        ORDER_OTHER = "order_other", _("Another problem with an order")
        PAYMENT = "payment", _("Payment")
        OTHER = "other", _("Something else")

    class Status(models.TextChoices):
        """Open: waiting for staff. Answered: staff wrote last. Closed: done (writing again reopens it)."""

        OPEN = "open", _("Open")
        ANSWERED = "answered", _("Answered")
        CLOSED = "closed", _("Closed")

    ORDER_KINDS = (Kind.REFILL, Kind.CANCEL, Kind.SPEED_UP, Kind.ORDER_OTHER)
    UNFINISHED = (Status.OPEN, Status.ANSWERED)

    customer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="tickets")
    subject = models.CharField(max_length=SUBJECT_MAX_LENGTH)
    kind = models.CharField("type", max_length=20, choices=Kind.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_tickets",
        limit_choices_to={"is_staff": True},
    )
    orders = models.ManyToManyField(Order, related_name="tickets", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_message_at = models.DateTimeField()
    customer_wrote_at = models.DateTimeField(help_text="When the customer last wrote.")
    # Set while the ticket is open: since when the customer has been waiting for an answer (the oldest first).
    waiting_since = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # Read markers: the id of the last message each side has seen; later messages of the other side are unread.
    customer_read_upto = models.PositiveBigIntegerField(default=0)
    staff_read_upto = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["-last_message_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=~Q(subject=""), name="ticket_subject_not_empty"),
            models.CheckConstraint(
                condition=Q(status="open", waiting_since__isnull=False) | (~Q(status="open") & Q(waiting_since=None)),
                name="ticket_waiting_only_while_open",
            ),
            models.CheckConstraint(
                condition=Q(status="closed", closed_at__isnull=False) | (~Q(status="closed") & Q(closed_at=None)),
                name="ticket_closed_at_only_when_closed",
            ),
        ]
        indexes = [
            models.Index(fields=["customer", "status"], name="ticket_customer_status"),
            models.Index(fields=["waiting_since"], condition=Q(status="open"), name="ticket_waiting"),
        ]

    def __str__(self) -> str:
        return f"Ticket {self.pk}: {self.subject}"

    @property
    def is_about_orders(self) -> bool:
        return self.kind in self.ORDER_KINDS


class Message(models.Model):
    """One message of a ticket's conversation: plain text, shown escaped and never linkified."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    is_staff = models.BooleanField(help_text="Written by staff (else by the customer).")
    body = models.TextField(max_length=BODY_MAX_LENGTH)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # When its mail (to the customer, or to the assignee or support address) was claimed for sending.
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["pk"]
        constraints = [models.CheckConstraint(condition=~Q(body=""), name="message_body_not_empty")]
        indexes = [
            models.Index(fields=["created_at"], condition=Q(notified_at=None), name="message_not_notified"),
        ]

    def __str__(self) -> str:
        return f"Message {self.pk} of ticket {self.ticket_id}"


class CannedReply(models.Model):
    """A ready answer staff pick on a ticket's page (editable before it is sent)."""

    title = models.CharField(max_length=100, unique=True)
    body = models.TextField(max_length=BODY_MAX_LENGTH)
    is_active = models.BooleanField(default=True, help_text="Offered on the ticket page.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title"]
        verbose_name_plural = "canned replies"

    def __str__(self) -> str:
        return self.title
