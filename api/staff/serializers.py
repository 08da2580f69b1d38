"""What the staff API shows of each record (every field named, never a secret: no provider key, no payment
credentials or client secret, no password or key hash), and what its actions take. Serializers shape data;
the services decide."""

from decimal import Decimal
from typing import Any

from rest_framework import serializers

from accounts.models import User
from billing.models import DepositRequest, LedgerEntry, Payment, Wallet
from catalog.models import Provider, Service
from orders.models import CancelRequest, Order, Refill
from panel.money import AMOUNT_DIGITS, AMOUNT_PLACES, RATE_PLACES

BIGINT_MAX = 2**63 - 1


class ErrorSerializer(serializers.Serializer[Any]):
    detail = serializers.CharField(help_text="What was wrong; nothing was changed.")
    invalid = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()), required=False,
        help_text="For bad input: each invalid field (a query parameter or a body field) and its messages.",
    )  # fmt: skip


class OrderSerializer(serializers.ModelSerializer[Order]):
    customer = serializers.IntegerField(source="user_id", read_only=True)
    customer_username = serializers.CharField(source="user.username", read_only=True)
    service_name = serializers.CharField(source="service.name", read_only=True)
    type_fields = serializers.DictField(
        source="fields", child=serializers.CharField(), read_only=True,
        help_text="The fields of its service type (comments, usernames, ...), exactly as sent upstream.",
    )  # fmt: skip

    class Meta:
        model = Order
        fields = [
            "id", "customer", "customer_username", "service", "service_name", "provider", "upstream_service_id",
            "link", "quantity", "runs", "interval", "type_fields", "rate", "charge", "cost", "status", "submission",
            "upstream_id", "upstream_charge", "start_count", "remains", "attempts", "missed_polls", "last_error",
            "reason", "created_at", "updated_at", "submission_changed_at", "next_attempt_at", "sent_at",
            "next_poll_at", "polled_at", "completed_at",
        ]  # fmt: skip
        read_only_fields = fields


class OrderRowSerializer(serializers.ModelSerializer[Order]):
    """A row of the order list: what operators scan and filter by, read as cheaply as 100 rows of `status` (the
    list is the staff API's busiest call); the order's own page (`orders/{id}/`) has everything."""

    customer = serializers.IntegerField(source="user_id", read_only=True)

    class Meta:
        model = Order
        fields = [
            "id", "customer", "service", "provider", "link", "quantity", "charge", "status", "submission",
            "upstream_id", "start_count", "remains", "created_at", "completed_at",
        ]  # fmt: skip
        read_only_fields = fields


class RefillSerializer(serializers.ModelSerializer[Refill]):
    class Meta:
        model = Refill
        fields = ["id", "order", "status", "upstream_id", "next_poll_at", "last_error", "created_at", "updated_at"]
        read_only_fields = fields


class CancelRequestSerializer(serializers.ModelSerializer[CancelRequest]):
    class Meta:
        model = CancelRequest
        fields = ["id", "order", "status", "last_error", "created_at", "updated_at"]
        read_only_fields = fields


class CustomerSerializer(serializers.ModelSerializer[User]):
    class Meta:
        model = User
        fields = [
            "id", "username", "email", "first_name", "last_name", "is_active", "date_joined", "last_login",
            "discount_percent", "language", "time_zone",
        ]  # fmt: skip
        read_only_fields = fields


class WalletSerializer(serializers.ModelSerializer[Wallet]):
    customer = serializers.IntegerField(source="user_id", read_only=True)
    customer_username = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = Wallet
        fields = ["id", "customer", "customer_username", "balance", "debt", "updated_at"]
        read_only_fields = fields


class LedgerEntrySerializer(serializers.ModelSerializer[LedgerEntry]):
    class Meta:
        model = LedgerEntry
        fields = ["id", "wallet", "kind", "amount", "balance_after", "order", "payment", "actor", "note", "created_at"]
        read_only_fields = fields


class PaymentSerializer(serializers.ModelSerializer[Payment]):
    customer = serializers.IntegerField(source="user_id", read_only=True)
    customer_username = serializers.CharField(source="user.username", read_only=True)
    method_name = serializers.CharField(source="method.name", read_only=True)

    class Meta:
        model = Payment
        fields = [
            "id", "customer", "customer_username", "method", "method_name", "gateway", "reference", "amount", "fee",
            "bonus", "currency", "state", "problem", "reversed_amount", "created_at", "updated_at", "succeeded_at",
        ]  # fmt: skip
        read_only_fields = fields


class DepositSerializer(serializers.ModelSerializer[DepositRequest]):
    customer = serializers.IntegerField(source="user_id", read_only=True)
    customer_username = serializers.CharField(source="user.username", read_only=True)
    method_name = serializers.CharField(source="method.name", read_only=True)

    class Meta:
        model = DepositRequest
        fields = [
            "id", "customer", "customer_username", "method", "method_name", "amount", "reference", "status", "note",
            "decided_by", "decided_at", "entry", "created_at",
        ]  # fmt: skip
        read_only_fields = fields


class ProviderSerializer(serializers.ModelSerializer[Provider]):
    class Meta:
        model = Provider
        fields = [
            "id", "name", "api_url", "currency", "exchange_rate", "markup_percent", "is_active", "balance",
            "balance_currency", "balance_checked_at", "low_balance_threshold", "last_sync_at", "last_sync_ok",
            "last_sync_message", "last_call_at", "last_call_ok", "last_call_error", "failing_since", "created_at",
        ]  # fmt: skip
        read_only_fields = fields


class ServiceSerializer(serializers.ModelSerializer[Service]):
    category_name = serializers.CharField(source="category.name", read_only=True)
    is_manual = serializers.BooleanField(
        read_only=True, help_text="Fulfilled by staff: no provider, never sent upstream."
    )
    cost = serializers.DecimalField(
        source="price.cost", max_digits=30, decimal_places=RATE_PLACES, read_only=True,
        help_text="What 1000 cost us, in the panel currency.",
    )  # fmt: skip
    margin_percent = serializers.DecimalField(
        source="price.margin_percent", max_digits=30, decimal_places=1, read_only=True, allow_null=True
    )

    class Meta:
        model = Service
        fields = [
            "id", "name", "is_manual", "provider", "category", "category_name", "type", "upstream_id", "upstream_name",
            "upstream_category", "upstream_rate", "min_quantity", "max_quantity", "refill", "cancel", "dripfeed",
            "description", "refill_days", "deny_duplicates", "is_active", "missing_upstream", "disabled_reason",
            "markup_percent", "fixed_rate", "rate", "cost", "margin_percent", "average_seconds", "created_at",
            "updated_at",
        ]  # fmt: skip
        read_only_fields = fields


# What the actions take.


class LinkUpstreamSerializer(serializers.Serializer[Any]):
    upstream_id = serializers.IntegerField(min_value=1, max_value=BIGINT_MAX, help_text="The provider's order id.")


class CancelSerializer(serializers.Serializer[Any]):
    reason = serializers.CharField(
        max_length=300, required=False, allow_blank=True, default="", help_text="Optional; the customer sees it."
    )


class PartialSerializer(serializers.Serializer[Any]):
    remains = serializers.IntegerField(
        min_value=1, max_value=BIGINT_MAX, help_text="How many of the ordered units were not delivered."
    )


class ProgressSerializer(serializers.Serializer[Any]):
    status = serializers.ChoiceField(
        choices=Order.Status.choices,
        help_text="An open status records progress; Completed, Partial (with remains) or Canceled ends the order "
        "and refunds what was not delivered.",
    )
    start_count = serializers.IntegerField(
        required=False, allow_null=True, max_value=BIGINT_MAX, help_text="The count before delivery began."
    )
    remains = serializers.IntegerField(
        required=False, allow_null=True, max_value=BIGINT_MAX, help_text="How many units are still to deliver."
    )


class RejectSerializer(serializers.Serializer[Any]):
    note = serializers.CharField(max_length=500, help_text="Why: the customer sees it on Add funds.")


class AdjustmentSerializer(serializers.Serializer[Any]):
    direction = serializers.ChoiceField(choices=[("credit", "Add to the balance"), ("debit", "Take from the balance")])
    amount = serializers.DecimalField(
        max_digits=AMOUNT_DIGITS, decimal_places=AMOUNT_PLACES, min_value=Decimal("0.00001"),
        help_text="A positive amount in the panel currency.",
    )  # fmt: skip
    note = serializers.CharField(
        max_length=500, help_text="Why: kept in the ledger with your name; the customer sees it in their history."
    )


class MarkupSerializer(serializers.Serializer[Any]):
    services = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=BIGINT_MAX), min_length=1, max_length=1000,
        help_text="The ids of the services to set.",
    )  # fmt: skip
    markup_percent = serializers.DecimalField(
        max_digits=7, decimal_places=2, min_value=Decimal(0), allow_null=True,
        help_text="null: inherit the category's (or provider's, or the default) markup.",
    )  # fmt: skip


class MarkupResultSerializer(serializers.Serializer[Any]):
    services = ServiceSerializer(many=True, help_text="The services as they are now.")
    disabled_below_cost = serializers.ListField(
        child=serializers.IntegerField(), help_text="Those this disabled: their fixed price is below the cost now."
    )
