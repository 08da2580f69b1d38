"""The staff API's viewsets: lists and records as the admin shows them, and the admin's operator actions, each
calling the same service as the admin action (which also writes the audit trail)."""

import json
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, viewsets
from rest_framework.decorators import action
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.views import exception_handler

from accounts.http import signed_in
from accounts.models import User
from api.staff import filters
from api.staff.authentication import StaffTokenAuthentication
from api.staff.permissions import StaffModelPermissions, requires
from api.staff.rows import columns_of
from api.staff.schema import StaffAutoSchema
from api.staff.serializers import (
    AdjustmentSerializer,
    CancelRequestSerializer,
    CancelSerializer,
    CustomerSerializer,
    DepositSerializer,
    LedgerEntrySerializer,
    LinkUpstreamSerializer,
    MarkupResultSerializer,
    MarkupSerializer,
    OrderRowSerializer,
    OrderSerializer,
    PartialSerializer,
    PaymentSerializer,
    ProgressSerializer,
    ProviderSerializer,
    RefillSerializer,
    RejectSerializer,
    ServiceSerializer,
    WalletSerializer,
)
from billing.models import DepositRequest, LedgerEntry, Payment, Wallet
from billing.services import deposit_approve, deposit_reject, wallet_credit, wallet_debit
from catalog.models import Provider, Service
from catalog.services.listings import services_set_markup
from orders.models import CancelRequest, Order, Refill
from orders.services.manual import manual_order_update, manual_orders_open
from orders.services.operators import order_finish, order_link_upstream, order_resend
from panel.errors import ApplicationError


class Refused(exceptions.APIException):
    """The record is not in a state the action applies to: nothing changed."""

    status_code = 400
    default_code = "refused"


def _flat(detail: Any) -> str:
    if isinstance(detail, dict):
        return "; ".join(_flat(value) if key == "non_field_errors" else f"{key}: {_flat(value)}"
                         for key, value in detail.items())  # fmt: skip
    if isinstance(detail, list):
        return " ".join(_flat(item) for item in detail)
    return str(detail)


def staff_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Every error as `{"detail": message}` (and `invalid`, by field, for bad input): a domain refusal
    (ApplicationError) is a 400 with the service's own message."""
    if isinstance(exc, ApplicationError):
        return Response({"detail": exc.message}, status=400)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()  # one answer for an unknown id and one that is not a number
    response = exception_handler(exc, context)
    if response is not None and isinstance(exc, exceptions.ValidationError):
        response.data = {"detail": _flat(exc.detail), "invalid": exc.detail}
    return response


class StaffJSONParser(JSONParser):
    """DRF's JSON parser, refusing as bad JSON what it would let through to a crash: nesting too deep for Python's
    decoder, and a lone surrogate (JSON can escape one, `"\\ud800"`; no UTF-8 text holds it, so neither can the
    database nor an answer that quotes it)."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
            json.dumps(data, ensure_ascii=False).encode()
        except RecursionError:
            raise exceptions.ParseError("JSON parse error - nested too deeply.") from None
        except UnicodeEncodeError:
            raise exceptions.ParseError("JSON parse error - a lone surrogate is not text.") from None
        return data


class StaffPagination(CursorPagination):
    """Newest first, 50 a page (`page_size` up to 200); `next` and `previous` are links with a cursor."""

    ordering: str | tuple[str, ...] = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def paginate_queryset(self, queryset: QuerySet[Any], request: Request, view: Any = None) -> list[Any] | None:
        self.model = queryset.model
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request: Request) -> Cursor | None:
        """A cursor whose position is not a value of the ordering's field (a hand-made one: `p=2026` where a date
        is ordered by) is as invalid as one that does not decode: a 404, not an error in the filter."""
        cursor = super().decode_cursor(request)
        if cursor is not None and cursor.position is not None:
            field = self.model._meta.get_field(self.ordering[0].lstrip("-"))
            try:
                field.to_python(cursor.position)
            except DjangoValidationError:
                raise exceptions.NotFound(self.invalid_cursor_message) from None
        return cursor


class StaffViewSet(viewsets.GenericViewSet[Any]):
    authentication_classes = [StaffTokenAuthentication]
    permission_classes = [StaffModelPermissions]
    parser_classes = [StaffJSONParser]
    pagination_class = StaffPagination
    filter_backends = [filters.StaffFilterBackend]
    schema = StaffAutoSchema()

    def get_exception_handler(self) -> Any:
        return staff_exception_handler

    def _input(self, serializer_class: type[BaseSerializer[Any]]) -> dict[str, Any]:
        serializer = serializer_class(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    @property
    def actor(self) -> User:
        return signed_in(self.request)


class ReadOnlyStaffViewSet(mixins.RetrieveModelMixin, StaffViewSet):
    def list(self, request: Request) -> Response:
        """A page of the filtered records; read as plain rows where the serializer allows (api.staff.rows)."""
        queryset = self.filter_queryset(self.get_queryset())
        columns = columns_of(self.get_serializer_class())
        if columns is None:
            page = self.paginate_queryset(queryset)
            return self.get_paginated_response(self.get_serializer(page, many=True).data)
        rows = self.paginate_queryset(queryset.values(*columns.paths))
        return self.get_paginated_response(columns.render(rows or []))


class OrderViewSet(ReadOnlyStaffViewSet):
    """Customers' orders, newest first: what they asked for, what they were charged, where each is upstream."""

    queryset = Order.objects.select_related("user", "service")
    serializer_class = OrderSerializer
    filterset_class = filters.OrderFilter

    def get_serializer_class(self) -> type[BaseSerializer[Any]]:
        return OrderRowSerializer if self.action == "list" else OrderSerializer

    def _answer(self, order_id: int) -> Response:
        return Response(OrderSerializer(self.get_queryset().get(pk=order_id)).data)

    @extend_schema(request=None, responses=OrderSerializer)
    @requires("orders.change_order")
    @action(detail=True, methods=["post"])
    def resend(self, request: Request, pk: str) -> Response:
        """Put an unknown or held order back in the queue to be sent again: it may then exist twice upstream,
        which the provider charges us for. Check at the provider first; if the order is there, link it instead."""
        order = self.get_object()
        if not order_resend(order_id=order.pk, actor=self.actor):
            raise Refused(f"Order {order.pk} was not resent: only an unknown or held order that is not final can be.")
        return self._answer(order.pk)

    @extend_schema(request=LinkUpstreamSerializer, responses=OrderSerializer)
    @requires("orders.change_order")
    @action(detail=True, methods=["post"], url_path="link-upstream")
    def link_upstream(self, request: Request, pk: str) -> Response:
        """Record the provider's order id found for an order in the unknown state: it becomes sent, and status
        polling follows it from there."""
        order = self.get_object()
        order_link_upstream(order_id=order.pk, upstream_id=self._input(LinkUpstreamSerializer)["upstream_id"],
                            actor=self.actor)  # fmt: skip
        return self._answer(order.pk)

    def _finish(self, status: str, *, remains: int | None = None, reason: str = "") -> Response:
        order = self.get_object()
        order_finish(order_id=order.pk, status=status, actor=self.actor, remains=remains, reason=reason)
        return self._answer(order.pk)

    @extend_schema(request=CancelSerializer, responses=OrderSerializer)
    @requires("orders.change_order")
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        """Cancel the order and give its whole charge back to the customer. Nothing is canceled at the provider:
        an order that was sent (or may have been) can still be delivered there and charged to us."""
        return self._finish(Order.Status.CANCELED, reason=self._input(CancelSerializer)["reason"])

    @extend_schema(request=None, responses=OrderSerializer)
    @requires("orders.change_order")
    @action(detail=True, methods=["post"], url_path="mark-completed")
    def mark_completed(self, request: Request, pk: str) -> Response:
        """Mark the order Completed: nothing is refunded."""
        return self._finish(Order.Status.COMPLETED)

    @extend_schema(request=PartialSerializer, responses=OrderSerializer)
    @requires("orders.change_order")
    @action(detail=True, methods=["post"], url_path="mark-partial")
    def mark_partial(self, request: Request, pk: str) -> Response:
        """Mark the order Partial with what remains undelivered: the customer gets back that share of the charge
        (charge × remains ÷ quantity, rounded down)."""
        return self._finish(Order.Status.PARTIAL, remains=self._input(PartialSerializer)["remains"])


class OldestFirst(StaffPagination):
    ordering = ("created_at", "id")


class ManualOrderViewSet(ReadOnlyStaffViewSet):
    """The open orders of manual services, oldest first: the panel fulfils them itself (they have no provider
    and are never sent upstream). Pull them, do the work, report progress."""

    serializer_class = OrderSerializer
    filterset_class = filters.OrderFilter
    pagination_class = OldestFirst

    def get_queryset(self) -> QuerySet[Order]:
        if self.action == "progress":
            # Any order: a closed one, or one a provider fulfils, gets the service's reason, not a 404.
            return Order.objects.select_related("user", "service")
        return manual_orders_open()

    @extend_schema(request=ProgressSerializer, responses=OrderSerializer)
    @requires("orders.change_order")
    @action(detail=True, methods=["post"])
    def progress(self, request: Request, pk: str) -> Response:
        """Report a manual order's progress: its status, and the start count and remains given. Completed,
        Partial (with remains) and Canceled end it and refund what was not delivered, once."""
        order = self.get_object()
        data = self._input(ProgressSerializer)
        manual_order_update(order_id=order.pk, actor=self.actor, status=data["status"],
                            start_count=data.get("start_count"), remains=data.get("remains"))  # fmt: skip
        return Response(OrderSerializer(self.get_queryset().get(pk=order.pk)).data)


class RefillViewSet(ReadOnlyStaffViewSet):
    """Refills customers asked for, newest first."""

    queryset = Refill.objects.all()
    serializer_class = RefillSerializer
    filterset_class = filters.RefillFilter


class CancelRequestViewSet(ReadOnlyStaffViewSet):
    """Cancel requests customers made of sent orders, newest first."""

    queryset = CancelRequest.objects.all()
    serializer_class = CancelRequestSerializer
    filterset_class = filters.CancelRequestFilter


class CustomerViewSet(ReadOnlyStaffViewSet):
    """Customers' accounts (staff are not customers), newest first."""

    queryset = User.objects.filter(is_staff=False)
    serializer_class = CustomerSerializer
    filterset_class = filters.CustomerFilter


class WalletViewSet(ReadOnlyStaffViewSet):
    """Customers' wallets: their balance and what they owe, newest first."""

    queryset = Wallet.objects.filter(user__isnull=False).select_related("user")
    serializer_class = WalletSerializer
    filterset_class = filters.WalletFilter

    @extend_schema(request=AdjustmentSerializer, responses=LedgerEntrySerializer)
    @requires("billing.change_wallet")
    @action(detail=True, methods=["post"])
    def adjust(self, request: Request, pk: str) -> Response:
        """Credit or debit the wallet with a note: a new ledger entry (an adjustment) recorded with your name and
        the note, which the customer sees in their history. A debit never takes the balance below zero."""
        wallet = self.get_object()
        data = self._input(AdjustmentSerializer)
        move = wallet_credit if data["direction"] == "credit" else wallet_debit
        entry = move(user=wallet.user, amount=data["amount"], kind=LedgerEntry.Kind.ADJUSTMENT, actor=self.actor,
                     note=data["note"])  # fmt: skip
        return Response(LedgerEntrySerializer(entry).data)


class PaymentViewSet(ReadOnlyStaffViewSet):
    """Payments through gateways (cards, crypto), newest first."""

    queryset = Payment.objects.select_related("user", "method")
    serializer_class = PaymentSerializer
    filterset_class = filters.PaymentFilter


class DepositViewSet(ReadOnlyStaffViewSet):
    """Deposit requests of manual payment methods (a customer's word that they paid), newest first."""

    queryset = DepositRequest.objects.select_related("user", "method")
    serializer_class = DepositSerializer
    filterset_class = filters.DepositFilter

    def _answer(self, deposit_id: int) -> Response:
        return Response(DepositSerializer(self.get_queryset().get(pk=deposit_id)).data)

    @extend_schema(request=None, responses=DepositSerializer)
    @requires("billing.change_depositrequest")
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str) -> Response:
        """Approve a pending deposit request: its amount is credited to the customer's wallet, once."""
        deposit = self.get_object()
        if not deposit_approve(deposit_id=deposit.pk, actor=self.actor):
            raise Refused(f"Deposit request {deposit.pk} is already decided: nothing changed.")
        return self._answer(deposit.pk)

    @extend_schema(request=RejectSerializer, responses=DepositSerializer)
    @requires("billing.change_depositrequest")
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str) -> Response:
        """Reject a pending deposit request with a note the customer sees; no money moves."""
        deposit = self.get_object()
        if not deposit_reject(deposit_id=deposit.pk, actor=self.actor, note=self._input(RejectSerializer)["note"]):
            raise Refused(f"Deposit request {deposit.pk} is already decided: nothing changed.")
        return self._answer(deposit.pk)


class ProviderViewSet(ReadOnlyStaffViewSet):
    """The upstream providers we buy from (their API keys are never shown)."""

    queryset = Provider.objects.all()
    serializer_class = ProviderSerializer
    filterset_class = filters.ProviderFilter


class ServiceViewSet(ReadOnlyStaffViewSet):
    """The services we sell: the provider's facts, our price, what they cost us."""

    queryset = Service.objects.select_related("provider", "category")
    serializer_class = ServiceSerializer
    filterset_class = filters.ServiceFilter

    @extend_schema(request=MarkupSerializer, responses=MarkupResultSerializer)
    @requires("catalog.change_service")
    @action(detail=False, methods=["post"], url_path="set-markup")
    def set_markup(self, request: Request) -> Response:
        """Give these services one markup and reprice them. A null markup inherits the category's (or provider's,
        or the default); services with a fixed price keep it; a service whose new price would be below its cost
        is disabled (listed in the answer)."""
        data = self._input(MarkupSerializer)
        ids = sorted(set(data["services"]))
        chosen: QuerySet[Service] = Service.objects.filter(pk__in=ids)
        missing = sorted(set(ids) - set(chosen.values_list("pk", flat=True)))
        if missing:
            raise exceptions.ValidationError({"services": [f"There is no service {', '.join(map(str, missing))}."]})
        disabled = services_set_markup(services=chosen, markup_percent=data["markup_percent"], actor=self.actor)
        services = self.get_queryset().filter(pk__in=ids).order_by("pk")
        return Response(
            {"services": ServiceSerializer(services, many=True).data, "disabled_below_cost": [s.pk for s in disabled]}
        )
