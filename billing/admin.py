"""Django admin for wallets and the ledger: read-only, with one audited way for staff to move money; payment
methods; and deposit requests, approved or rejected only through billing.services."""

from decimal import Decimal

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html

from accounts.http import signed_in
from accounts.models import User
from billing.models import DepositRequest, LedgerEntry, PaymentMethod, Wallet
from billing.services import (
    InsufficientFunds,
    InvalidAmount,
    SharedReference,
    deposit_approve,
    deposit_reject,
    wallet_credit,
    wallet_debit,
)
from panel.admin import ReadOnlyAdmin, action_confirmation
from panel.money import AMOUNT_DIGITS, AMOUNT_PLACES


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
            actor = signed_in(request)
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
        intro = (
            f"Wallet of {wallet.user}: balance {wallet.balance} {settings.PANEL_CURRENCY}. The change is a new "
            "ledger entry (an adjustment) recorded with your name and the note. A debit never takes the balance "
            "below zero."
        )
        return action_confirmation(
            request, self, action="adjust", title="Credit or debit a wallet", submit="Apply", objects=wallets,
            form=form, intro=intro,
        )  # fmt: skip


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


DEPOSIT_COLUMNS = ["Request", "Created", "Customer", "Method", "Amount", "Reference", "Status"]
REJECT_INTRO = (
    "Each pending request becomes Rejected and no money moves. The customer sees your note next to the request on "
    "Add funds. Requests already approved or rejected stay as they are."
)


def _deposit_row(deposit: DepositRequest) -> list[object]:
    return [
        deposit.pk, deposit.created_at, deposit.user, deposit.method.name,
        f"{deposit.amount} {settings.PANEL_CURRENCY}", deposit.reference, deposit.get_status_display(),
    ]  # fmt: skip


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
        actor = signed_in(request)
        ids = list(queryset.order_by("pk").values_list("pk", flat=True))
        approved = decided = 0
        for pk in ids:
            try:
                if deposit_approve(deposit_id=pk, actor=actor):
                    approved += 1
                else:
                    decided += 1
            except SharedReference as exc:
                messages.error(request, exc.message)
        if approved:
            messages.success(request, f"Approved {approved} deposit request(s): the money is in the wallets.")
        if decided:
            messages.warning(request, f"{decided} already decided: nothing changed for them.")

    @admin.action(description="Reject with a note", permissions=["decide"])
    def reject(self, request: HttpRequest, queryset: QuerySet[DepositRequest]) -> HttpResponse | None:
        actor = signed_in(request)
        deposits = list(queryset.select_related("user", "method").order_by("pk"))
        form = RejectForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            return action_confirmation(
                request, self, action="reject", title="Reject deposit requests", submit="Reject", objects=deposits,
                columns=DEPOSIT_COLUMNS, row=_deposit_row, form=form, intro=REJECT_INTRO,
            )  # fmt: skip
        note = form.cleaned_data["note"]
        rejected = sum(deposit_reject(deposit_id=d.pk, actor=actor, note=note) for d in deposits)
        if rejected:
            messages.success(request, f"Rejected {rejected} deposit request(s) with your note.")
        if len(deposits) > rejected:
            messages.warning(request, f"{len(deposits) - rejected} already decided: nothing changed for them.")
        return None
