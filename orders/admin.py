"""Django admin for orders, refills and cancel requests: read-only pages, and operators' actions that go
through orders.services (the only way an order's state or money changes here)."""

from decimal import Decimal
from typing import TypeVar

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator

from accounts.http import signed_in
from backoffice.filters import FollowupAttentionFilter, OrderAttentionFilter
from billing.models import LedgerEntry
from orders.models import CancelRequest, ForwardAttempt, Order, Refill
from orders.services.operators import (
    order_dripfeed_stop,
    order_finish,
    order_link_upstream,
    order_refund_later,
    order_resend,
)
from orders.validation import OrderError
from panel.admin import CsvExportAdmin, OnceForm, ReadOnlyAdmin, action_confirmation
from panel.money import AMOUNT_DIGITS, AMOUNT_PLACES

Status = Order.Status
_F = TypeVar("_F", Refill, CancelRequest)
BIGINT_MAX = 2**63 - 1
RESEND_WARNING = (
    "These orders may already exist at the provider: the last attempt to send them got no clear answer "
    "(unknown), or the provider refused them for now (held). Resending may create a duplicate order upstream, "
    "which the provider charges us for and the customer does not pay for. Check at the provider first: if the "
    "order is there, use “Link to an upstream order id” instead."
)
CANCEL_WARNING = (
    "Each order becomes Canceled and its whole charge goes back to the customer. Nothing is canceled at the "
    "provider: an order that was sent (or may have been) can still be delivered there and charged to us."
)
ORDER_COLUMNS = ["Order", "Customer", "Service", "Status", "Submission", "Upstream id", "Quantity", "Charge", "Link"]


def _order_link(order_id: int) -> str:
    return format_html('<a href="{}">{}</a>', reverse("admin:orders_order_change", args=[order_id]), order_id)


def _short(text: str) -> str:
    return Truncator(text).chars(60)


def _order_row(order: Order) -> list[object]:
    return [
        order.pk, order.user, order.service.name, order.status, order.get_submission_display(),
        order.upstream_id, order.quantity, f"{order.charge} {settings.PANEL_CURRENCY}",
        Truncator(order.link).chars(80),
    ]  # fmt: skip


class LinkUpstreamForm(forms.Form):
    upstream_id = forms.IntegerField(label="Upstream order id", min_value=1, max_value=BIGINT_MAX)


class CancelForm(forms.Form):
    reason = forms.CharField(max_length=300, required=False, help_text="Optional; the customer sees it.")


class PartialForm(forms.Form):
    remains = forms.IntegerField(
        min_value=1, max_value=BIGINT_MAX, help_text="How many of the ordered units were not delivered."
    )


class LaterRefundForm(OnceForm):
    amount = forms.DecimalField(
        required=False, min_value=Decimal("0.00001"), max_digits=AMOUNT_DIGITS, decimal_places=AMOUNT_PLACES,
        help_text="Blank: all that is left of the charge.",
    )  # fmt: skip
    note = forms.CharField(max_length=500, help_text="Why: the customer sees it in their history.")


@admin.register(Order)
class OrderAdmin(CsvExportAdmin[Order], ReadOnlyAdmin[Order]):
    csv_name = "orders"
    csv_columns = [
        ("id", "id"), ("created", "created_at"), ("customer", "user.username"), ("service id", "service_id"),
        ("service", "service.name"), ("provider", "provider.name"), ("status", "status"),
        ("submission", "submission"), ("link", "link"), ("quantity", "quantity"), ("remains", "remains"),
        ("charge", "charge"), ("cost", "cost"), ("upstream id", "upstream_id"), ("completed", "completed_at"),
    ]  # fmt: skip
    list_display = [
        "id",
        "created_at",
        "user",
        "service",
        "provider",
        "status",
        "submission",
        "charge",
        "quantity",
        "remains",
        "upstream_id",
        "missed_polls",
        "error",
    ]
    list_filter = [
        "status",
        "submission",
        "origin",
        "provider",
        ("service", admin.RelatedOnlyFieldListFilter),
        ("user", admin.RelatedOnlyFieldListFilter),
        OrderAttentionFilter,
    ]
    date_hierarchy = "created_at"
    search_fields = ["=id", "=upstream_id", "link"]
    list_select_related = ["user", "service", "provider"]
    actions = [
        "resend",
        "link_upstream",
        "cancel_and_refund",
        "dripfeed_stop",
        "mark_completed",
        "mark_partial",
        "refund_later",
    ]
    readonly_fields = ["ledger", "tried"]
    fieldsets = [
        (None, {"fields": ["user", "service", "provider", "status", "submission", "origin", "reason"]}),
        ("Order", {"fields": ["link", "quantity", "runs", "interval", "fields", "parent", "run"]}),
        ("Money", {"fields": ["rate", "charge", "cost", "upstream_charge", "ledger"]}),
        (
            "Upstream",
            {
                "fields": [
                    "route",
                    "upstream_service_id",
                    "upstream_id",
                    "start_count",
                    "remains",
                    "attempts",
                    "tried",
                    "missed_polls",
                    "last_error",
                ]
            },
        ),
        (
            "Times",
            {
                "fields": [
                    "created_at",
                    "updated_at",
                    "submission_changed_at",
                    "next_attempt_at",
                    "next_run_at",
                    "sent_at",
                    "next_poll_at",
                    "polled_at",
                    "poll_claimed_at",
                    "completed_at",
                ]
            },
        ),
    ]

    def has_operate_permission(self, request: HttpRequest) -> bool:
        # Staff who may only look at orders must not resend, cancel or refund them.
        return request.user.has_perm("orders.change_order")

    def has_refund_permission(self, request: HttpRequest) -> bool:
        # Money leaves the panel: Finance's, not Support's.
        return request.user.has_perm("orders.refund_order")

    @admin.display(description="last error")
    def error(self, obj: Order) -> str:
        return _short(obj.last_error)

    @admin.display(description="ledger")
    def ledger(self, obj: Order) -> str:
        entries = LedgerEntry.objects.filter(order=obj).order_by("pk")
        rows = ((f"{e.created_at:%Y-%m-%d %H:%M}", e.kind, f"{e.amount:+}", e.note) for e in entries)
        return format_html_join("", "<div>{} {} {} {}</div>", rows) or "—"

    @admin.display(description="routes tried")
    def tried(self, obj: Order) -> str:
        attempts = ForwardAttempt.objects.filter(order=obj).select_related("provider").order_by("pk")
        rows = ((f"{a.at:%Y-%m-%d %H:%M:%S}", a.provider.name, a.upstream_service_id, a.get_outcome_display(),
                 a.message) for a in attempts)  # fmt: skip
        return format_html_join("", "<div>{} {} #{}: {} {}</div>", rows) or "—"

    def _finish(
        self, request: HttpRequest, orders: list[Order], status: str, *, remains: int | None = None, reason: str = ""
    ) -> None:
        for order in orders:
            try:
                order_finish(order_id=order.pk, status=status, actor=signed_in(request), remains=remains, reason=reason)
            except OrderError as exc:
                messages.error(request, exc.message)
                continue
            refund = LedgerEntry.objects.filter(order_id=order.pk, kind=LedgerEntry.Kind.REFUND).first()
            refunded = f"refunded {refund.amount} {settings.PANEL_CURRENCY}" if refund else "nothing refunded"
            messages.success(request, f"Order {order.pk} marked {status}: {refunded}.")

    @staticmethod
    def _selected(queryset: QuerySet[Order], limit: int | None = None) -> list[Order]:
        return list(queryset.select_related("user", "service").order_by("pk")[:limit])

    @admin.action(description="Resend (may duplicate upstream)", permissions=["operate"])
    def resend(self, request: HttpRequest, queryset: QuerySet[Order]) -> HttpResponse | None:
        orders = self._selected(queryset)
        if "apply" not in request.POST:
            return action_confirmation(
                request, self, action="resend", title="Resend orders", submit="Resend", objects=orders,
                columns=ORDER_COLUMNS, row=_order_row, warning=RESEND_WARNING,
            )  # fmt: skip
        for order in orders:
            if order_resend(order_id=order.pk, actor=signed_in(request)):
                messages.success(request, f"Order {order.pk} is queued to be sent again.")
            else:
                messages.error(
                    request, f"Order {order.pk} was not resent: only an unknown or held order that is not final can be."
                )
        return None

    @admin.action(description="Link to an upstream order id", permissions=["operate"])
    def link_upstream(self, request: HttpRequest, queryset: QuerySet[Order]) -> HttpResponse | None:
        orders = self._selected(queryset, limit=2)
        if len(orders) != 1:
            messages.error(request, "Select exactly one order to link to an upstream order id.")
            return None
        order = orders[0]
        form = LinkUpstreamForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            intro = "The order becomes sent with this upstream id, and status polling follows it from there."
            return action_confirmation(
                request, self, action="link_upstream", title="Link to an upstream order", submit="Link",
                objects=orders, columns=ORDER_COLUMNS, row=_order_row, form=form, intro=intro,
            )  # fmt: skip
        upstream_id = form.cleaned_data["upstream_id"]
        try:
            order_link_upstream(order_id=order.pk, upstream_id=upstream_id, actor=signed_in(request))
        except OrderError as exc:
            messages.error(request, exc.message)
            return None
        messages.success(request, f"Order {order.pk} is linked to upstream order {upstream_id}.")
        return None

    @admin.action(description="Cancel and refund", permissions=["operate"])
    def cancel_and_refund(self, request: HttpRequest, queryset: QuerySet[Order]) -> HttpResponse | None:
        orders = self._selected(queryset)
        form = CancelForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            return action_confirmation(
                request, self, action="cancel_and_refund", title="Cancel and refund orders",
                submit="Cancel and refund", objects=orders, columns=ORDER_COLUMNS, row=_order_row, form=form,
                warning=CANCEL_WARNING,
            )  # fmt: skip
        self._finish(request, orders, Status.CANCELED, reason=form.cleaned_data["reason"])
        return None

    @admin.action(description="Stop drip-feed", permissions=["operate"])
    def dripfeed_stop(self, request: HttpRequest, queryset: QuerySet[Order]) -> HttpResponse | None:
        for order in self._selected(queryset):
            if order_dripfeed_stop(order_id=order.pk, actor=signed_in(request)):
                messages.success(
                    request, f"Drip-feed {order.pk} is stopped: it closes with its refund when its last run ends."
                )
            else:
                messages.error(request, f"Order {order.pk} is not an open drip-feed the panel runs.")
        return None

    @admin.action(description="Mark Completed", permissions=["operate"])
    def mark_completed(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        self._finish(request, self._selected(queryset), Status.COMPLETED)

    @admin.action(description="Mark Partial (refund what was not delivered)", permissions=["operate"])
    def mark_partial(self, request: HttpRequest, queryset: QuerySet[Order]) -> HttpResponse | None:
        orders = self._selected(queryset, limit=2)
        if len(orders) != 1:
            messages.error(request, "Select exactly one order to mark Partial: each has its own remains.")
            return None
        form = PartialForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            intro = (
                "The order becomes Partial, and the customer gets back the undelivered share of the charge "
                "(charge × remains ÷ quantity, rounded down)."
            )
            return action_confirmation(
                request, self, action="mark_partial", title="Mark Partial", submit="Mark Partial", objects=orders,
                columns=ORDER_COLUMNS, row=_order_row, form=form, intro=intro,
            )  # fmt: skip
        self._finish(request, orders, Status.PARTIAL, remains=form.cleaned_data["remains"])
        return None

    @admin.action(description="Refund later (part or all of what is left)", permissions=["refund"])
    def refund_later(self, request: HttpRequest, queryset: QuerySet[Order]) -> HttpResponse | None:
        orders = self._selected(queryset, limit=2)
        if len(orders) != 1:
            messages.error(request, "Select exactly one order to refund: each has its own amount.")
            return None
        order = orders[0]
        form = LaterRefundForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            intro = (
                "The customer gets back this amount of the charge of a Completed or Partial order, on top of what was "
                "refunded already (never more in all than the charge); the referrer's commission on the order, if "
                "any, loses the same share. Recorded with your name and note."
            )
            return action_confirmation(
                request, self, action="refund_later", title="Refund later", submit="Refund", objects=orders,
                columns=ORDER_COLUMNS, row=_order_row, form=form, intro=intro,
            )  # fmt: skip
        try:
            refund = order_refund_later(order_id=order.pk, amount=form.cleaned_data["amount"], actor=signed_in(request),
                                        note=form.cleaned_data["note"], once=form.cleaned_data["once"])  # fmt: skip
        except OrderError as exc:
            messages.error(request, exc.message)
            return None
        messages.success(request, f"Order {order.pk}: refunded {refund.amount} {settings.PANEL_CURRENCY}.")
        return None


class FollowupAdmin(ReadOnlyAdmin[_F]):
    """Refills and cancel requests alike: read-only, linked to their order."""

    list_filter = ["status", FollowupAttentionFilter]
    search_fields = ["=order__id"]

    @admin.display(description="order", ordering="order_id")
    def order_link(self, obj: _F) -> str:
        return _order_link(obj.order_id)

    @admin.display(description="last error")
    def error(self, obj: _F) -> str:
        return _short(obj.last_error)


@admin.register(Refill)
class RefillAdmin(FollowupAdmin[Refill]):
    list_display = ["id", "order_link", "status", "upstream_id", "error", "created_at", "updated_at"]


@admin.register(CancelRequest)
class CancelRequestAdmin(FollowupAdmin[CancelRequest]):
    list_display = ["id", "order_link", "status", "error", "created_at", "updated_at"]
