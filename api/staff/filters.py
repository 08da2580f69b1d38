"""The staff API's list filters (django-filter): query parameters on each list, combined with AND."""

from typing import Any

import django_filters as filters
from django import forms
from django.db.models import Q, QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework.request import Request
from rest_framework.views import APIView

from accounts.models import User
from billing.models import DepositRequest, Payment, PaymentMethod, Wallet
from catalog.models import Provider, Service
from orders.models import CancelRequest, Order, Refill


@extend_schema_field(OpenApiTypes.INT)
class IdFilter(filters.NumberFilter):  # type: ignore[misc]  # django-filter ships no type hints
    """A record's id: a whole number (an unknown id lists nothing)."""

    field_class = forms.IntegerField


class CreatedFilterSet(filters.FilterSet):  # type: ignore[misc]  # django-filter ships no type hints
    created_after = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte", label="Created at or after")
    created_before = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt", label="Created before")


class OrderFilter(CreatedFilterSet):
    status = filters.MultipleChoiceFilter(choices=Order.Status.choices, label="Status (repeat for several)")
    submission = filters.MultipleChoiceFilter(choices=Order.Submission.choices, label="Submission (repeat)")
    customer = IdFilter(field_name="user", label="Customer id")
    service = IdFilter(field_name="service", label="Service id")
    provider = IdFilter(field_name="provider", label="Provider id")
    upstream_id = IdFilter(label="The provider's order id")
    link = filters.CharFilter(label="Exactly this link")

    class Meta:
        model = Order
        fields = ["status", "submission", "customer", "service", "provider", "upstream_id", "link"]


class RefillFilter(CreatedFilterSet):
    status = filters.MultipleChoiceFilter(choices=Refill.Status.choices, label="Status (repeat for several)")
    order = IdFilter(field_name="order", label="Order id")

    class Meta:
        model = Refill
        fields = ["status", "order"]


class CancelRequestFilter(CreatedFilterSet):
    status = filters.MultipleChoiceFilter(choices=CancelRequest.Status.choices, label="Status (repeat for several)")
    order = IdFilter(field_name="order", label="Order id")

    class Meta:
        model = CancelRequest
        fields = ["status", "order"]


class CustomerFilter(filters.FilterSet):  # type: ignore[misc]  # django-filter ships no type hints
    username = filters.CharFilter(lookup_expr="iexact", label="Username (any letter case)")
    email = filters.CharFilter(lookup_expr="iexact", label="Email (any letter case)")
    search = filters.CharFilter(method="_search", label="Part of the username or email")
    is_active = filters.BooleanFilter()
    joined_after = filters.IsoDateTimeFilter(field_name="date_joined", lookup_expr="gte", label="Joined at or after")

    class Meta:
        model = User
        fields = ["username", "email", "is_active"]

    def _search(self, queryset: QuerySet[User], name: str, value: str) -> QuerySet[User]:
        return queryset.filter(Q(username__icontains=value) | Q(email__icontains=value))


class WalletFilter(filters.FilterSet):  # type: ignore[misc]  # django-filter ships no type hints
    customer = IdFilter(field_name="user", label="Customer id")
    owes = filters.BooleanFilter(method="_owes", label="Owes money (new orders on hold)")

    class Meta:
        model = Wallet
        fields = ["customer"]

    def _owes(self, queryset: QuerySet[Wallet], name: str, value: bool) -> QuerySet[Wallet]:
        return queryset.filter(debt__gt=0) if value else queryset.filter(debt=0)


class PaymentFilter(CreatedFilterSet):
    state = filters.MultipleChoiceFilter(choices=Payment.State.choices, label="State (repeat for several)")
    gateway = filters.ChoiceFilter(choices=PaymentMethod.Gateway.choices)
    method = IdFilter(field_name="method", label="Payment method id")
    customer = IdFilter(field_name="user", label="Customer id")
    reference = filters.CharFilter(label="The gateway's id of the payment")

    class Meta:
        model = Payment
        fields = ["state", "gateway", "method", "customer", "reference"]


class DepositFilter(CreatedFilterSet):
    status = filters.MultipleChoiceFilter(choices=DepositRequest.Status.choices, label="Status (repeat for several)")
    method = IdFilter(field_name="method", label="Payment method id")
    customer = IdFilter(field_name="user", label="Customer id")
    reference = filters.CharFilter(field_name="reference", lookup_expr="iexact", label="Reference (any letter case)")

    class Meta:
        model = DepositRequest
        fields = ["status", "method", "customer", "reference"]


class ProviderFilter(filters.FilterSet):  # type: ignore[misc]  # django-filter ships no type hints
    is_active = filters.BooleanFilter()

    class Meta:
        model = Provider
        fields = ["is_active"]


class ServiceFilter(filters.FilterSet):  # type: ignore[misc]  # django-filter ships no type hints
    provider = IdFilter(field_name="provider", label="Provider id")
    category = IdFilter(field_name="category", label="Category id")
    type = filters.CharFilter(label="Service type, as the provider names it")
    is_active = filters.BooleanFilter()
    missing_upstream = filters.BooleanFilter()
    upstream_id = IdFilter(label="The provider's service id")
    manual = filters.BooleanFilter(field_name="provider", lookup_expr="isnull", label="Fulfilled by staff")

    class Meta:
        model = Service
        fields = ["provider", "category", "type", "is_active", "missing_upstream", "upstream_id", "manual"]


class StaffFilterBackend(DjangoFilterBackend):  # type: ignore[misc]  # django-filter ships no type hints
    """django-filter, skipped when the request names none of the list's filters (an unfiltered page, the most
    common one, then builds no filter form)."""

    def filter_queryset(self, request: Request, queryset: QuerySet[Any], view: APIView) -> QuerySet[Any]:
        filterset_class = getattr(view, "filterset_class", None)
        if filterset_class is None or not set(request.query_params) & set(filterset_class.base_filters):
            return queryset
        filtered: QuerySet[Any] = super().filter_queryset(request, queryset, view)
        return filtered
