"""Orders as customers placed them, and their life upstream; refills and cancel requests."""

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from catalog.models import Provider, Route, Service
from panel.money import AMOUNT_DIGITS, AMOUNT_PLACES, RATE_DIGITS, RATE_PLACES

AMOUNT: dict[str, Any] = {"max_digits": AMOUNT_DIGITS, "decimal_places": AMOUNT_PLACES}
RATE: dict[str, Any] = {"max_digits": RATE_DIGITS, "decimal_places": RATE_PLACES}


class Order(models.Model):
    class Status(models.TextChoices):
        """What customers see: the API v2 values (stored as they are), labelled in the reader's language."""

        PENDING = "Pending", _("Pending")
        IN_PROGRESS = "In progress", _("In progress")
        PROCESSING = "Processing", _("Processing")
        COMPLETED = "Completed", _("Completed")
        PARTIAL = "Partial", _("Partial")
        CANCELED = "Canceled", _("Canceled")

    class Submission(models.TextChoices):
        """Where the order is on its way upstream: for operators only."""

        QUEUED = "queued", "queued"
        SENDING = "sending", "sending"
        SENT = "sent", "sent"
        HELD = "held", "held (upstream refused for now)"
        UNKNOWN = "unknown", "unknown (may exist upstream)"
        REJECTED = "rejected", "rejected upstream"
        MANUAL = "manual", "manual (staff fulfil it)"
        DRIP = "drip", "drip-feed run by the panel (its runs are orders)"

    class Origin(models.TextChoices):
        """Where the customer placed it: their notification settings differ for the two."""

        WEB = "web", "web"
        API = "api", "API"

    FINAL = (Status.COMPLETED, Status.PARTIAL, Status.CANCELED)

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders")
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="orders")
    # None with submission MANUAL: an order of a manual service, fulfilled by staff and never sent upstream.
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="orders", null=True, blank=True)
    upstream_service_id = models.PositiveBigIntegerField(null=True, blank=True)
    # The route it was placed on (or last tried, when the answer was ambiguous); provider and upstream_service_id
    # are that route's, so status, refill and cancel go to its provider.
    route = models.ForeignKey(Route, on_delete=models.SET_NULL, related_name="orders", null=True, blank=True)
    link = models.CharField(max_length=2000, blank=True)
    quantity = models.PositiveBigIntegerField(help_text="In total (every run of a drip-feed).")
    runs = models.PositiveIntegerField(null=True, blank=True)
    interval = models.PositiveIntegerField(null=True, blank=True, help_text="Minutes between runs.")
    # A drip-feed the panel runs itself (submission DRIP) is a parent whose runs are child orders, each forwarded
    # like any order; children carry no charge and are never shown to customers.
    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, related_name="children", null=True, blank=True, editable=False
    )
    run = models.PositiveIntegerField(null=True, blank=True, editable=False, help_text="Which run of its parent.")
    next_run_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="When the next run is placed (none: no more runs)."
    )
    # The type-specific fields (comments, usernames, ...) exactly as they will be sent upstream.
    fields = models.JSONField(default=dict, blank=True)
    origin = models.CharField(max_length=3, choices=Origin.choices, default=Origin.WEB)

    rate = models.DecimalField(help_text="Our rate per 1000 used, after the customer's discount.", **RATE)
    charge = models.DecimalField(**AMOUNT)
    cost = models.DecimalField(help_text="Upstream cost in the panel currency, as priced at order time.", **AMOUNT)

    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    submission = models.CharField(max_length=20, choices=Submission.choices, default=Submission.QUEUED)
    upstream_id = models.PositiveBigIntegerField(null=True, blank=True)
    upstream_charge = models.DecimalField(null=True, blank=True, **AMOUNT)
    start_count = models.BigIntegerField(null=True, blank=True)
    remains = models.BigIntegerField(null=True, blank=True)

    attempts = models.PositiveIntegerField(default=0, help_text="Upstream `add` attempts.")
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    submission_changed_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    next_poll_at = models.DateTimeField(null=True, blank=True)
    polled_at = models.DateTimeField(null=True, blank=True, help_text="When it was last polled.")
    # Set while a poller holds the order; a claim older than the sweep limit is void.
    poll_claimed_at = models.DateTimeField(null=True, blank=True)
    missed_polls = models.PositiveIntegerField(default=0, help_text="Polls the provider did not know the id.")
    last_error = models.TextField(blank=True, help_text="The last upstream problem (operators only).")
    reason = models.CharField(max_length=300, blank=True, help_text="Why it was canceled, as customers see it.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        permissions = [("refund_order", "Can refund what a Completed or Partial order still holds")]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "upstream_id"],
                condition=Q(upstream_id__isnull=False),
                name="order_unique_upstream_id",
            ),
            models.CheckConstraint(condition=Q(charge__gte=0), name="order_charge_not_negative"),
            models.CheckConstraint(
                condition=Q(submission="sent") | Q(upstream_id__isnull=True) | Q(submission="unknown"),
                name="order_upstream_id_only_when_sent",
            ),
            # Manual orders and only they have no provider: nothing can forward or poll them.
            models.CheckConstraint(
                condition=Q(provider__isnull=True, upstream_service_id__isnull=True, submission="manual")
                | (Q(provider__isnull=False, upstream_service_id__isnull=False) & ~Q(submission="manual")),
                name="order_manual_has_no_provider",
            ),
            # Each run of a drip-feed is placed once; runs are free (the parent holds the charge).
            models.UniqueConstraint(fields=["parent", "run"], name="order_run_once_per_parent"),
            models.CheckConstraint(
                condition=Q(parent__isnull=True, run__isnull=True) | Q(parent__isnull=False, run__gte=1, charge=0),
                name="order_child_is_a_free_run",
            ),
        ]
        indexes = [
            models.Index(fields=["submission", "next_attempt_at"], name="order_forward_due"),
            models.Index(
                fields=["provider", "next_poll_at"],
                condition=Q(submission="sent") & ~Q(status__in=["Completed", "Partial", "Canceled"]),
                name="order_poll_due",
            ),
            models.Index(fields=["user", "service", "link"], name="order_user_link"),
            # The dashboard's stuck orders: the open ones only, a small part of all.
            models.Index(
                fields=["created_at"], condition=~Q(status__in=["Completed", "Partial", "Canceled"]), name="order_open"
            ),
            # The drip-feeds the panel runs that are still open: what each beat cycle looks at.
            models.Index(
                fields=["next_run_at"],
                condition=Q(submission="drip") & ~Q(status__in=["Completed", "Partial", "Canceled"]),
                name="order_drip_open",
            ),
        ]

    def __str__(self) -> str:
        return f"Order {self.pk}"

    @property
    def is_final(self) -> bool:
        return self.status in self.FINAL

    @property
    def is_manual(self) -> bool:
        return self.submission == self.Submission.MANUAL

    @property
    def is_drip(self) -> bool:
        """A drip-feed the panel runs itself: its runs are child orders."""
        return self.submission == self.Submission.DRIP

    @property
    def placed_on(self) -> Route | Service:
        """What tells what its provider does (refill, cancel): the route it was placed on, else its service."""
        return self.route if self.route is not None else self.service


class ForwardAttempt(models.Model):
    """One try to place an order on one route of its service, and what the provider answered (operators only)."""

    class Outcome(models.TextChoices):
        SENT = "sent", "placed"
        NOT_SENT = "not_sent", "not sent (transport failure)"
        HELD = "held", "refused for now"
        REJECTED = "rejected", "refused for good"
        UNKNOWN = "unknown", "ambiguous (may exist upstream)"

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="forward_attempts")
    route = models.ForeignKey(Route, on_delete=models.SET_NULL, related_name="forward_attempts", null=True, blank=True)
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="forward_attempts")
    upstream_service_id = models.PositiveBigIntegerField()
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    message = models.TextField(blank=True)
    upstream_id = models.PositiveBigIntegerField(null=True, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return f"{self.order_id} at {self.provider_id} #{self.upstream_service_id}: {self.outcome}"


class FollowupRequest(models.Model):
    """What a customer asks about a sent order (a refill, a cancel): queued, then sent upstream in batches.

    Both kinds start QUEUED and are SENDING while one run holds them; their Status enums share those two.
    """

    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
        ordering = ["-id"]


class Refill(FollowupRequest):
    class Status(models.TextChoices):
        QUEUED = "queued", "queued"
        SENDING = "sending", "sending"
        SENT = "sent", "sent upstream"
        PENDING = "Pending", _("Pending")
        IN_PROGRESS = "In progress", _("In progress")
        COMPLETED = "Completed", _("Completed")
        REJECTED = "Rejected", _("Rejected")
        ERROR = "Error", _("Error")

    FINAL = (Status.COMPLETED, Status.REJECTED, Status.ERROR)

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="refills")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    upstream_id = models.PositiveBigIntegerField(null=True, blank=True)
    next_poll_at = models.DateTimeField(null=True, blank=True)

    class Meta(FollowupRequest.Meta):
        constraints = [
            # At most one refill in flight per order.
            models.UniqueConstraint(
                fields=["order"],
                condition=~Q(status__in=["Completed", "Rejected", "Error"]),
                name="refill_one_in_flight_per_order",
            ),
        ]

    def __str__(self) -> str:
        return f"Refill {self.pk} of order {self.order_id}"


class CancelRequest(FollowupRequest):
    class Status(models.TextChoices):
        QUEUED = "queued", "queued"
        SENDING = "sending", "sending"
        ACCEPTED = "accepted", "accepted upstream"
        REFUSED = "refused", "refused upstream"

    OPEN = (Status.QUEUED, Status.SENDING)

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="cancel_requests")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)

    class Meta(FollowupRequest.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["order"], condition=Q(status__in=["queued", "sending"]), name="cancel_one_open_per_order"
            ),
        ]

    def __str__(self) -> str:
        return f"Cancel request {self.pk} of order {self.order_id}"


class IdempotencyKey(models.Model):
    """An API `add` made with our `idempotency_key` extension: a repeat returns this order, creates nothing."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=64)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of the request's parameters.")
    order = models.OneToOneField(Order, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique_per_user")]

    def __str__(self) -> str:
        return self.key
