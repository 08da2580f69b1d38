"""Django admin for wallets and the ledger: read-only, with one audited way for staff to move money; payment
methods; and deposit requests, approved or rejected only through billing.services."""

from decimal import Decimal
from typing import TypeVar

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from accounts.models import User
from billing.models import DepositRequest, LedgerEntry, PaymentMethod, Wallet
from billing.services import (
    InsufficientFunds,
    InvalidAmount,
    deposit_approve,
    deposit_reject,
    wallet_credit,
    wallet_debit,
)
from panel.money import AMOUNT_DIGITS, AMOUNT_PLACES

_M = TypeVar("_M", bound=Model)


class ReadOnlyAdmin(admin.ModelAdmin[_M]):
    """Money and order state change only through services: no admin form may add, edit or delete a row."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: _M | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: _M | None = None) -> bool:
        return False


class AdjustmentForm(forms.Form):
    direction = forms.ChoiceField(
        choices=[("credit", "Credit (add to the balance)"), ("debit", "Debit (take from the balance)")],
        widget=forms.RadioSelect,
    )
    amount = forms.DecimalField(max_digits=AMOUNT_DIGITS, decimal_places=AMOUNT_PLACES)
    note = forms.CharField(
        max_length=500, help_text="Why: kept in the ledger with your name; the customer sees it in their history."
    )

    def clean_amount(self) -> Decimal:
        amount: Decimal = self.cleaned_data["amount"]
        if amount <= 0:
            raise forms.ValidationError("The amount must be a positive number.")
        return amount


@admin.register(Wallet)
class WalletAdmin(ReadOnlyAdmin[Wallet]):
    list_display = ["user", "balance", "updated_at"]
    list_select_related = ["user"]
    search_fields = ["user__username", "user__email"]
    actions = ["adjust"]

    def has_adjust_permission(self, request: HttpRequest) -> bool:
        # Staff who may only look at wallets must not move money.
        return request.user.has_perm("billing.change_wallet")

    @admin.action(description="Credit or debit with a note", permissions=["adjust"])
    def adjust(self, request: HttpRequest, queryset: QuerySet[Wallet]) -> HttpResponse | None:
        wallets = list(queryset.select_related("user")[:2])
        if len(wallets) != 1:
            messages.error(request, "Select exactly one wallet to credit or debit.")
            return None
        wallet = wallets[0]
        form = AdjustmentForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            data = form.cleaned_data
            actor = request.user
            assert isinstance(actor, User)
            move = wallet_credit if data["direction"] == "credit" else wallet_debit
            try:
                entry = move(
                    user=wallet.user, amount=data["amount"], kind=LedgerEntry.Kind.ADJUSTMENT, actor=actor,
                    note=data["note"],
                )  # fmt: skip
            except (InsufficientFunds, InvalidAmount) as exc:
                messages.error(request, f"Wallet of {wallet.user}: {exc.message}")
                return None
            messages.success(
                request,
                f"Wallet of {wallet.user}: {entry.amount:+.{AMOUNT_PLACES}f} {settings.PANEL_CURRENCY}, "
                f"balance now {entry.balance_after}.",
            )
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Credit or debit a wallet",
            "opts": self.model._meta,
            "form": form,
            "wallet": wallet,
            "currency": settings.PANEL_CURRENCY,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/billing/wallet/adjust.html", context)


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin[LedgerEntry]):
    list_display = ["id", "created_at", "user", "kind", "amount", "balance_after", "order_link", "actor", "note"]
    list_filter = ["kind", "created_at"]
    list_select_related = ["wallet__user", "order", "actor"]
    search_fields = ["wallet__user__username", "=order__id", "note"]

    @admin.display(description="user", ordering="wallet__user__username")
    def user(self, obj: LedgerEntry) -> User:
        return obj.wallet.user

    @admin.display(description="order", ordering="order_id")
    def order_link(self, obj: LedgerEntry) -> str:
        if obj.order_id is None:
            return "—"
        url = reverse("admin:orders_order_change", args=[obj.order_id])
        return format_html('<a href="{}">{}</a>', url, obj.order_id)


@admin.register(PaymentMethod)
class PaymentMethodAdmin(admin.ModelAdmin[PaymentMethod]):
    list_display = ["name", "minimum", "is_active", "position"]
    list_editable = ["is_active", "position"]
    list_filter = ["is_active"]
    search_fields = ["name"]


class RejectForm(forms.Form):
    note = forms.CharField(
        max_length=500, widget=forms.Textarea(attrs={"rows": 3}), help_text="Why: the customer sees it on Add funds."
    )


@admin.register(DepositRequest)
class DepositRequestAdmin(ReadOnlyAdmin[DepositRequest]):
    list_display = ["id", "created_at", "user", "method", "amount", "reference", "status", "decided_by", "note"]
    list_filter = ["status", "method", "created_at"]
    list_select_related = ["user", "method", "decided_by"]
    search_fields = ["user__username", "user__email", "reference"]
    actions = ["approve", "reject"]

    def has_decide_permission(self, request: HttpRequest) -> bool:
        # Staff who may only look at deposit requests must not credit or refuse them.
        return request.user.has_perm("billing.change_depositrequest")

    @admin.action(description="Approve (credit the customer's wallet)", permissions=["decide"])
    def approve(self, request: HttpRequest, queryset: QuerySet[DepositRequest]) -> None:
        actor = request.user
        assert isinstance(actor, User)
        ids = list(queryset.order_by("pk").values_list("pk", flat=True))
        approved = sum(deposit_approve(deposit_id=pk, actor=actor) for pk in ids)
        if approved:
            messages.success(request, f"Approved {approved} deposit request(s): the money is in the wallets.")
        if len(ids) > approved:
            messages.warning(request, f"{len(ids) - approved} already decided: nothing changed for them.")

    @admin.action(description="Reject with a note", permissions=["decide"])
    def reject(self, request: HttpRequest, queryset: QuerySet[DepositRequest]) -> HttpResponse | None:
        actor = request.user
        assert isinstance(actor, User)
        deposits = list(queryset.select_related("user", "method").order_by("pk"))
        form = RejectForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            context = {
                **self.admin_site.each_context(request),
                "title": "Reject deposit requests",
                "opts": self.model._meta,
                "deposits": deposits,
                "form": form,
                "currency": settings.PANEL_CURRENCY,
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(request, "admin/billing/depositrequest/reject.html", context)
        note = form.cleaned_data["note"]
        rejected = sum(deposit_reject(deposit_id=d.pk, actor=actor, note=note) for d in deposits)
        if rejected:
            messages.success(request, f"Rejected {rejected} deposit request(s) with your note.")
        if len(deposits) > rejected:
            messages.warning(request, f"{len(deposits) - rejected} already decided: nothing changed for them.")
        return None
