"""A wallet per customer and its append-only ledger (the wallet balance is a cache of the ledger's sum); the
payment methods customers pay with; the deposit requests of manual methods, and the payments of automatic ones
(a gateway: billing/payments/) with what was taken back of them; the affiliate program (billing/affiliates/): each
customer's affiliate account with a wallet of its own, who referred whom, the visits of referral links, and what
later refunds took back of commissions."""

import unicodedata
from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
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
    """A balance moved only by ledger entries: a customer's main wallet (`user`, what they order with), or the
    wallet of an affiliate account (no `user`: AffiliateAccount.wallet points at it), where commissions go."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="wallet"
    )
    balance = models.DecimalField(default=0, **AMOUNT)
    # What the customer owes after a payment was refunded or disputed when the wallet no longer held it: while it
    # is above 0, the wallet pays for no new order (the balance itself never goes below 0).
    debt = models.DecimalField(default=0, **AMOUNT)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(balance__gte=0), name="wallet_balance_not_negative"),
            models.CheckConstraint(condition=Q(debt__gte=0), name="wallet_debt_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.holder_name} ({self.balance} {settings.PANEL_CURRENCY})"

    @property
    def holder(self) -> Any:
        """The customer whose money this is (the affiliate account's owner for an affiliate wallet)."""
        return self.user if self.user_id is not None else self.affiliate_account.user

    @property
    def holder_name(self) -> str:
        if self.user_id is not None:
            return str(self.user)
        return f"{self.affiliate_account.user} (affiliate)"


class LedgerEntry(models.Model):
    """One movement of money, never changed or deleted: a correction is a new entry."""

    class Kind(models.TextChoices):
        DEPOSIT = "deposit", _("Deposit")
        CHARGE = "charge", pgettext_lazy("ledger kind", "Charge")
        REFUND = "refund", _("Refund")
        ADJUSTMENT = "adjustment", _("Adjustment")
        BONUS = "bonus", _("Bonus")
        # A payment refunded or disputed after it was credited: the money goes back out.
        REVERSAL = "reversal", _("Payment reversed")
        # An operator's refund of an order that was final already (Completed or Partial), part or all of what its
        # own refund left; several may follow one another, never more in all than the charge.
        LATER_REFUND = "later_refund", _("Later refund")
        # Affiliate wallets: a referred customer's order became final (one per order); a later refund of it takes
        # back its share (one per later refund, `cause`); what a reversal could not take is owed (the wallet's
        # debt), and the next commissions pay it back (one per commission, `cause`).
        COMMISSION = "commission", _("Commission")
        COMMISSION_REVERSAL = "commission_reversal", _("Commission reversed")
        DEBT_REPAYMENT = "debt_repayment", _("Owed commission paid back")
        # Affiliate earnings moved to the main balance: out of the affiliate wallet, into the main one (`cause`:
        # the entry out), in one transaction; or paid out by an operator outside the panel.
        TRANSFER_OUT = "transfer_out", _("Moved to your balance")
        TRANSFER_IN = "transfer_in", _("From affiliate earnings")
        PAYOUT = "payout", _("Paid out")

    wallet = models.ForeignKey(Wallet, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    # Signed: money in is positive, money out negative.
    amount = models.DecimalField(**AMOUNT)
    balance_after = models.DecimalField(**AMOUNT)
    order = models.ForeignKey(
        "orders.Order", null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_entries"
    )
    payment = models.ForeignKey(
        "billing.Payment", null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_entries"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The entry this one follows from: a commission reversal's later refund, a debt repayment's commission, a
    # transfer's entry out of the affiliate wallet. Each entry causes at most one other.
    cause = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT, related_name="effect")
    note = models.CharField(max_length=500, blank=True)
    # The one-time token of the operator's form that wrote it (panel.admin.OnceForm): the same form sent twice (a
    # double click, Back and resend) can write no second entry.
    once = models.CharField(max_length=32, null=True, unique=True, editable=False)  # noqa: DJ001
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
            # A payment is credited at most once, and earns its bonus at most once, whoever reports it.
            models.UniqueConstraint(
                fields=["payment", "kind"],
                condition=Q(kind__in=["deposit", "bonus"]),
                name="ledger_one_deposit_one_bonus_per_payment",
            ),
            # A referrer earns at most one commission per order, whichever poller or operator closes it.
            models.UniqueConstraint(
                fields=["order"], condition=Q(kind="commission"), name="ledger_one_commission_per_order"
            ),
            models.CheckConstraint(condition=Q(balance_after__gte=0), name="ledger_balance_after_not_negative"),
            models.CheckConstraint(
                condition=(
                    (Q(kind="deposit") & Q(amount__gt=0))
                    | (Q(kind="charge") & Q(amount__lt=0) & Q(order__isnull=False))
                    | (Q(kind="refund") & Q(amount__gt=0) & Q(order__isnull=False))
                    | (Q(kind="adjustment") & ~Q(amount=0))
                    | (Q(kind="bonus") & Q(amount__gt=0) & Q(payment__isnull=False))
                    | (Q(kind="reversal") & Q(amount__lt=0) & Q(payment__isnull=False))
                    | (Q(kind="later_refund") & Q(amount__gt=0) & Q(order__isnull=False) & Q(actor__isnull=False))
                    | (Q(kind="commission") & Q(amount__gt=0) & Q(order__isnull=False))
                    | (
                        Q(kind="commission_reversal")
                        & Q(amount__lt=0)
                        & Q(order__isnull=False)
                        & Q(cause__isnull=False)
                    )
                    | (Q(kind="debt_repayment") & Q(amount__lt=0) & Q(cause__isnull=False))
                    | (Q(kind="transfer_out") & Q(amount__lt=0))
                    | (Q(kind="transfer_in") & Q(amount__gt=0) & Q(cause__isnull=False))
                    | (Q(kind="payout") & Q(amount__lt=0) & Q(actor__isnull=False))
                ),
                name="ledger_amount_sign_matches_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} ({self.wallet.holder_name})"


class PaymentMethod(models.Model):
    """A way to pay the operator that customers pick on Add funds: by hand (a bank account, a wallet address, with
    a deposit request that an operator approves) or through a gateway that credits the wallet itself."""

    class Gateway(models.TextChoices):
        MANUAL = "manual", "Manual (deposit requests an operator approves)"
        STRIPE = "stripe", "Stripe (cards)"
        CRYPTOMUS = "cryptomus", "Cryptomus (crypto)"

    name = models.CharField(max_length=100)
    gateway = models.CharField(max_length=20, choices=Gateway.choices, default=Gateway.MANUAL)
    # The gateway's keys (billing.payments names them): written in the admin or add_payment_method, never shown.
    credentials = models.JSONField(default=dict, blank=True, editable=False)
    instructions = models.TextField(
        blank=True, help_text="Shown to customers as written: where to pay and what to give as the reference."
    )
    minimum = models.DecimalField(default=0, help_text="The smallest deposit accepted with this method.", **AMOUNT)
    maximum = models.DecimalField(
        null=True, blank=True, help_text="The largest deposit accepted with this method (blank: no limit).", **AMOUNT
    )
    fee_percent = models.DecimalField(
        "fee percent",
        max_digits=5,
        decimal_places=2,
        default=0,
        help_text="Added to what the customer pays (the wallet gets the amount they asked for). 0: no fee.",
    )
    bonus_percent = models.DecimalField(
        "bonus percent",
        max_digits=5,
        decimal_places=2,
        default=0,
        help_text="Credited on top, as a bonus entry, for deposits of at least the bonus minimum. 0: no bonus.",
    )
    bonus_minimum = models.DecimalField(default=0, help_text="The smallest deposit that earns the bonus.", **AMOUNT)
    is_active = models.BooleanField("active", default=True, help_text="Only active methods are offered.")
    position = models.PositiveIntegerField(default=0, help_text="Methods are listed by position, then name.")

    class Meta:
        ordering = ["position", "name"]
        constraints = [
            models.CheckConstraint(condition=Q(minimum__gte=0), name="payment_method_minimum_not_negative"),
            models.CheckConstraint(
                condition=Q(maximum__isnull=True) | Q(maximum__gte=models.F("minimum")),
                name="payment_method_maximum_not_below_minimum",
            ),
            models.CheckConstraint(
                condition=Q(fee_percent__gte=0) & Q(fee_percent__lt=100), name="payment_method_fee_percent_range"
            ),
            models.CheckConstraint(
                condition=Q(bonus_percent__gte=0) & Q(bonus_percent__lte=100),
                name="payment_method_bonus_percent_range",
            ),
            models.CheckConstraint(condition=Q(bonus_minimum__gte=0), name="payment_method_bonus_minimum_not_negative"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_manual(self) -> bool:
        return self.gateway == self.Gateway.MANUAL


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


class Payment(models.Model):
    """One attempt to pay through a gateway. It is credited (a deposit entry, and a bonus entry when the method
    gives one) exactly once, when the gateway confirms it, in the transaction that moves it to succeeded."""

    class State(models.TextChoices):
        CREATED = "created", pgettext_lazy("payment state", "Created")
        PENDING = "pending", pgettext_lazy("payment state", "Pending")
        SUCCEEDED = "succeeded", pgettext_lazy("payment state", "Succeeded")
        FAILED = "failed", pgettext_lazy("payment state", "Failed")
        REFUNDED = "refunded", pgettext_lazy("payment state", "Refunded")
        DISPUTED = "disputed", pgettext_lazy("payment state", "Disputed")

    OPEN = (State.CREATED, State.PENDING)
    CREDITED = (State.SUCCEEDED, State.REFUNDED, State.DISPUTED)

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payments")
    method = models.ForeignKey(PaymentMethod, on_delete=models.PROTECT, related_name="payments")
    gateway = models.CharField(max_length=20, choices=PaymentMethod.Gateway.choices)
    # The gateway's id of the payment (a PaymentIntent, an invoice): set once the gateway has created it.
    reference = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    amount = models.DecimalField(help_text="What the wallet gets.", **AMOUNT)
    fee = models.DecimalField(default=0, help_text="The method's fee, paid on top.", **AMOUNT)
    bonus = models.DecimalField(default=0, help_text="Credited on top of the amount, as a bonus entry.", **AMOUNT)
    currency = models.CharField(max_length=3)
    state = models.CharField(max_length=20, choices=State.choices, default=State.CREATED, db_index=True)
    # What the customer's browser needs to pay: Stripe's client secret, or the gateway's hosted page.
    client_secret = models.CharField(max_length=255, blank=True, editable=False)
    redirect_url = models.URLField(max_length=1000, blank=True, editable=False)
    # Why it failed, or what the gateway reported last that we could not use: for operators, never secrets.
    problem = models.CharField(max_length=500, blank=True)
    reversed_amount = models.DecimalField(default=0, help_text="Taken back by refunds and disputes.", **AMOUNT)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    succeeded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        permissions = [("refund_payment", "Can refund payments through their gateway")]
        constraints = [
            models.UniqueConstraint(
                fields=["gateway", "reference"],
                condition=Q(reference__isnull=False),
                name="payment_reference_unique_per_gateway",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(condition=Q(fee__gte=0) & Q(bonus__gte=0), name="payment_fee_bonus_not_negative"),
            models.CheckConstraint(
                condition=Q(reversed_amount__gte=0) & Q(reversed_amount__lte=models.F("amount") + models.F("bonus")),
                name="payment_reversed_at_most_credited",
            ),
            models.CheckConstraint(
                condition=Q(succeeded_at__isnull=True) | Q(state__in=["succeeded", "refunded", "disputed"]),
                name="payment_succeeded_at_only_when_credited",
            ),
        ]

    def __str__(self) -> str:
        return f"payment {self.pk}: {self.total} {self.currency} by {self.user} ({self.state})"

    @property
    def total(self) -> Any:
        """What the customer pays the gateway: the amount and the fee."""
        return self.amount + self.fee

    @property
    def is_open(self) -> bool:
        return self.state in self.OPEN


class PaymentReversal(models.Model):
    """Money a gateway gave back to the customer after the payment was credited (a refund, a dispute): `amount` in
    the currency paid; the wallet's part is `taken` (a reversal entry) and `owed` (added to the wallet's debt)."""

    class Kind(models.TextChoices):
        REFUND = "refund", _("Refund")
        DISPUTE = "dispute", _("Dispute")

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="reversals")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    # The gateway's id of the refund or dispute: one reversal per gateway event, however often it is reported.
    reference = models.CharField(max_length=255)
    amount = models.DecimalField(**AMOUNT)
    # Of what the wallet had to give back (the same share of the amount and bonus credited): taken at once, and
    # owed as debt; later collected from the wallet, or written off (settled).
    taken = models.DecimalField(default=0, **AMOUNT)
    owed = models.DecimalField(default=0, **AMOUNT)
    collected = models.DecimalField(default=0, **AMOUNT)
    entry = models.OneToOneField(
        LedgerEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="payment_reversal"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # The operator settled what was owed: collected it from the wallet, or wrote it off.
    settled_at = models.DateTimeField(null=True, blank=True)
    settled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    settlement_note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-id"]
        permissions = [("settle_debt", "Can collect or write off what customers owe")]
        constraints = [
            models.UniqueConstraint(fields=["payment", "reference"], name="payment_reversal_once_per_event"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_reversal_amount_positive"),
            models.CheckConstraint(
                condition=Q(taken__gte=0) & Q(owed__gte=0) & Q(collected__gte=0) & Q(collected__lte=models.F("owed")),
                name="payment_reversal_parts_in_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} of {self.amount} on payment {self.payment_id}"


class CommissionReversal(models.Model):
    """What a later refund took back of a referrer's commission (`due`): `taken` from the affiliate wallet (the
    `entry`, a commission reversal) and `owed`, added to the wallet's debt, which the next commissions pay back
    (debt repayment entries). One per later refund, even when the wallet held nothing."""

    refund = models.OneToOneField(LedgerEntry, on_delete=models.PROTECT, related_name="commission_reversal")
    wallet = models.ForeignKey(Wallet, on_delete=models.PROTECT, related_name="commission_reversals")
    due = models.DecimalField(**AMOUNT)
    taken = models.DecimalField(**AMOUNT)
    owed = models.DecimalField(**AMOUNT)
    entry = models.OneToOneField(LedgerEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(due__gt=0) & Q(taken__gte=0) & Q(owed__gte=0) & Q(due=models.F("taken") + models.F("owed")),
                name="commission_reversal_parts_add_up",
            ),
            # Money taken is a ledger entry, and only money taken.
            models.CheckConstraint(
                condition=(Q(taken__gt=0) & Q(entry__isnull=False)) | (Q(taken=0) & Q(entry__isnull=True)),
                name="commission_reversal_taken_iff_entry",
            ),
        ]

    def __str__(self) -> str:
        return f"commission reversal of {self.due} for later refund {self.refund_id}"


PERCENT: dict[str, Any] = {
    "max_digits": 5,
    "decimal_places": 2,
    "validators": [MinValueValidator(0), MaxValueValidator(100)],
}


class AffiliateAccount(models.Model):
    """A customer's side of the affiliate program: the code of their referral link, their commission percent
    (blank: AFFILIATE_COMMISSION_PERCENT), and the wallet their commissions go to, apart from the main one."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="affiliate")
    code = models.CharField(max_length=16, unique=True, editable=False)
    commission_percent = models.DecimalField(
        "commission percent",
        null=True,
        blank=True,
        help_text="Of the net spend of the customers this one referred. Blank: the panel's setting.",
        **PERCENT,
    )
    wallet = models.OneToOneField(Wallet, on_delete=models.PROTECT, related_name="affiliate_account", editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        permissions = [("pay_affiliate", "Can record payouts of affiliate earnings outside the panel")]
        constraints = [
            models.CheckConstraint(
                condition=Q(commission_percent__isnull=True)
                | (Q(commission_percent__gte=0) & Q(commission_percent__lte=100)),
                name="affiliate_commission_percent_range",
            ),
        ]

    def __str__(self) -> str:
        return f"affiliate account of {self.user}"


class Referral(models.Model):
    """Who brought whom: written once, when the referred customer signs up, and never changed (the database
    refuses an UPDATE or DELETE, and anyone referring themselves)."""

    referrer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="referrals")
    referred = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="referral")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=~Q(referrer=models.F("referred")), name="referral_not_self"),
        ]

    def __str__(self) -> str:
        return f"{self.referred} referred by {self.referrer}"


class ReferralVisits(models.Model):
    """How many browsers followed an affiliate's link in a month (of the affiliate's time zone)."""

    account = models.ForeignKey(AffiliateAccount, on_delete=models.PROTECT, related_name="visits")
    month = models.DateField(help_text="The first day of the month.")
    count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-month"]
        verbose_name_plural = "referral visits"
        constraints = [models.UniqueConstraint(fields=["account", "month"], name="referral_visits_one_row_per_month")]

    def __str__(self) -> str:
        return f"{self.count} visits of {self.account.user}'s link in {self.month:%Y-%m}"
