"""A wallet per customer and its append-only ledger; the wallet balance is a cache of the ledger's sum."""

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q

from panel.money import AMOUNT_DIGITS, AMOUNT_PLACES

AMOUNT: dict[str, Any] = {"max_digits": AMOUNT_DIGITS, "decimal_places": AMOUNT_PLACES}


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
        DEPOSIT = "deposit"
        CHARGE = "charge"
        REFUND = "refund"
        ADJUSTMENT = "adjustment"

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
