"""A wallet per customer and its append-only ledger (the wallet balance is a cache of the ledger's sum), and the
deposit requests through which customers ask for their payments to be credited."""

import unicodedata
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from panel.money import AMOUNT_DIGITS, AMOUNT_PLACES

AMOUNT: dict[str, Any] = {"max_digits": AMOUNT_DIGITS, "decimal_places": AMOUNT_PLACES}
REFERENCE_MAX_LENGTH = 200
# Case folding and NFKC can lengthen a text (ß → ss, ligatures): room for that, within an index entry.
REFERENCE_KEY_MAX_LENGTH = 4 * REFERENCE_MAX_LENGTH


def reference_key(reference: str) -> str:
    """What identifies a payment's reference however it was typed: trimmed, full-width folded (NFKC), caseless."""
    return unicodedata.normalize("NFKC", reference).strip().casefold()


class Wallet(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="wallet")
    balance = models.DecimalField(default=0, **AMOUNT)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(balance__gte=0), name="wallet_balance_not_negative")]

    def __str__(self) -> str:
        return f"{self.user} ({self.balance} {settings.PANEL_CURRENCY})"


class LedgerEntry(models.Model):
    """One movement of money, never changed or deleted: a correction is a new entry."""

    class Kind(models.TextChoices):
        DEPOSIT = "deposit", _("Deposit")
        CHARGE = "charge", pgettext_lazy("ledger kind", "Charge")
        REFUND = "refund", _("Refund")
        ADJUSTMENT = "adjustment", _("Adjustment")

    wallet = models.ForeignKey(Wallet, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    # Signed: money in is positive, money out negative.
    amount = models.DecimalField(**AMOUNT)
    balance_after = models.DecimalField(**AMOUNT)
    order = models.ForeignKey(
        "orders.Order", null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_entries"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "ledger entries"
        constraints = [
            # One charge and at most one refund per order, whatever races or retries happen.
            models.UniqueConstraint(
                fields=["order", "kind"],
                condition=Q(kind__in=["charge", "refund"]),
                name="ledger_one_charge_one_refund_per_order",
            ),
            models.CheckConstraint(condition=Q(balance_after__gte=0), name="ledger_balance_after_not_negative"),
            models.CheckConstraint(
                condition=(
                    (Q(kind="deposit") & Q(amount__gt=0))
                    | (Q(kind="charge") & Q(amount__lt=0) & Q(order__isnull=False))
                    | (Q(kind="refund") & Q(amount__gt=0) & Q(order__isnull=False))
                    | (Q(kind="adjustment") & ~Q(amount=0))
                ),
                name="ledger_amount_sign_matches_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} ({self.wallet.user})"


class PaymentMethod(models.Model):
    """A way to pay the operator (a bank account, a wallet address) that customers pick on Add funds."""

    name = models.CharField(max_length=100)
    instructions = models.TextField(
        blank=True, help_text="Shown to customers as written: where to pay and what to give as the reference."
    )
    minimum = models.DecimalField(default=0, help_text="The smallest deposit accepted with this method.", **AMOUNT)
    is_active = models.BooleanField("active", default=True, help_text="Only active methods are offered.")
    position = models.PositiveIntegerField(default=0, help_text="Methods are listed by position, then name.")

    class Meta:
        ordering = ["position", "name"]
        constraints = [models.CheckConstraint(condition=Q(minimum__gte=0), name="payment_method_minimum_not_negative")]

    def __str__(self) -> str:
        return self.name


class DepositRequest(models.Model):
    """A customer's word that they paid; an operator approves it (one ledger deposit) or rejects it."""

    class Status(models.TextChoices):
        PENDING = "pending", pgettext_lazy("deposit status", "Pending")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="deposit_requests")
    method = models.ForeignKey(PaymentMethod, on_delete=models.PROTECT, related_name="deposit_requests")
    amount = models.DecimalField(**AMOUNT)
    reference = models.CharField(max_length=REFERENCE_MAX_LENGTH)
    # reference_key(reference). NULL, unlike "", is never equal to another key: it marks an approved request that
    # an earlier approved one of the same payment stands for (see migration 0007).
    reference_key = models.CharField(max_length=REFERENCE_KEY_MAX_LENGTH, null=True, editable=False)  # noqa: DJ001
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING, db_index=True)
    note = models.CharField(max_length=500, blank=True, help_text="The operator's note: the customer sees it.")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    entry = models.OneToOneField(
        LedgerEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="deposit_request"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="deposit_amount_positive"),
            # The money arrives with the approval, and only with it.
            models.CheckConstraint(
                condition=(Q(status="approved") & Q(entry__isnull=False))
                | (~Q(status="approved") & Q(entry__isnull=True)),
                name="deposit_approved_iff_entry",
            ),
            # One payment, one request, whoever asks: neither a resent form nor another customer quoting the same
            # reference (in other letter case) can ask twice for the same money.
            models.UniqueConstraint(
                fields=["method", "reference_key"],
                condition=Q(status__in=["pending", "approved"]),
                name="deposit_one_open_request_per_payment",
            ),
            models.CheckConstraint(
                condition=Q(reference_key__gt="") | (Q(reference_key__isnull=True) & Q(status="approved")),
                name="deposit_reference_key_set",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amount} {settings.PANEL_CURRENCY} from {self.user} ({self.status})"
