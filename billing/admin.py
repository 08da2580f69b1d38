"""Django admin for wallets and the ledger: read-only, with one audited way for staff to move money; payment
methods; deposit requests, approved or rejected only through billing.services; and the affiliate program: the
affiliate accounts (their percent, payouts outside the panel, through billing.affiliates.services), referrals and
what later refunds took back of commissions."""

from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count, F, QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from accounts.http import signed_in
from accounts.models import User
from backoffice.filters import WalletAttentionFilter
from billing.affiliates.services import AffiliateRefused, affiliate_payout, affiliate_percent_set
from billing.models import (
    AffiliateAccount,
    CommissionReversal,
    DepositRequest,
    LedgerEntry,
    Payment,
    PaymentMethod,
    PaymentReversal,
    Referral,
    Wallet,
)
from billing.payments import GATEWAY_CLASSES
from billing.payments.base import Credential
from billing.payments.methods import credential_specs, credentials_clean, credentials_shown
from billing.payments.services import RefundRefused, debt_collect, debt_write_off, payment_check, payment_refund
from billing.services import (
    InsufficientFunds,
    InvalidAmount,
    SentAlready,
    SharedReference,
    deposit_approve,
    deposit_reject,
    wallet_credit,
    wallet_debit,
)
from panel.admin import CsvExportAdmin, OnceForm, ReadOnlyAdmin, action_confirmation
from panel.money import AMOUNT_DIGITS, AMOUNT_PLACES


class AdjustmentForm(OnceForm):
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


class DebtFilter(admin.SimpleListFilter):
    title = "debt"
    parameter_name = "owes"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Owes money (orders on hold)")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(debt__gt=0) if self.value() == "yes" else queryset


@admin.register(Wallet)
class WalletAdmin(ReadOnlyAdmin[Wallet]):
    list_display = ["holder", "balance", "debt", "updated_at"]
    list_filter = [DebtFilter, WalletAttentionFilter]
    list_select_related = ["user", "affiliate_account__user"]
    search_fields = ["user__username", "user__email", "affiliate_account__user__username"]
    actions = ["adjust"]

    @admin.display(description="customer", ordering="user__username")
    def holder(self, obj: Wallet) -> str:
        return obj.holder_name

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
        if wallet.user is None:
            messages.error(request, f"{wallet.holder_name}: an affiliate wallet moves only by commissions, transfers "
                                    "and payouts (Affiliate accounts).")  # fmt: skip
            return None
        form = AdjustmentForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            data = form.cleaned_data
            actor = signed_in(request)
            move = wallet_credit if data["direction"] == "credit" else wallet_debit
            try:
                entry = move(
                    user=wallet.user, amount=data["amount"], kind=LedgerEntry.Kind.ADJUSTMENT, actor=actor,
                    note=data["note"], once=data["once"],
                )  # fmt: skip
            except (InsufficientFunds, InvalidAmount, SentAlready) as exc:
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
class LedgerEntryAdmin(CsvExportAdmin[LedgerEntry], ReadOnlyAdmin[LedgerEntry]):
    csv_name = "ledger"
    csv_columns = [
        ("id", "id"), ("created", "created_at"), ("customer", "wallet.holder_name"), ("kind", "kind"),
        ("amount", "amount"), ("balance after", "balance_after"), ("order", "order_id"), ("payment", "payment_id"),
        ("actor", "actor.username"), ("note", "note"),
    ]  # fmt: skip
    list_display = ["id", "created_at", "user", "kind", "amount", "balance_after", "order_link", "actor", "note"]
    list_filter = ["kind", "created_at"]
    list_select_related = ["wallet__user", "wallet__affiliate_account__user", "order", "actor"]
    search_fields = ["wallet__user__username", "wallet__affiliate_account__user__username", "=order__id", "note"]

    @admin.display(description="user", ordering="wallet__user__username")
    def user(self, obj: LedgerEntry) -> str:
        return obj.wallet.holder_name

    @admin.display(description="order", ordering="order_id")
    def order_link(self, obj: LedgerEntry) -> str:
        if obj.order_id is None:
            return "—"
        url = reverse("admin:orders_order_change", args=[obj.order_id])
        return format_html('<a href="{}">{}</a>', url, obj.order_id)


def _credential_field(gateway: str, spec: Credential) -> str:
    return f"{gateway}_{spec.name}"


def _credential_form_fields() -> dict[str, forms.Field]:
    """A field for each credential of each gateway, named gateway_credential: secrets are write-only."""
    fields: dict[str, forms.Field] = {}
    for gateway in GATEWAY_CLASSES:
        label = PaymentMethod.Gateway(gateway).label
        for spec in credential_specs(gateway):
            if spec.secret:
                fields[_credential_field(gateway, spec)] = forms.CharField(
                    label=f"{label}: {spec.label}", required=False,
                    widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
                    help_text="Never shown again once saved. Leave blank to keep the current one.",
                )  # fmt: skip
            else:
                fields[_credential_field(gateway, spec)] = forms.CharField(label=f"{label}: {spec.label}",
                                                                           required=False)  # fmt: skip
    return fields


class _PaymentMethodForm(forms.ModelForm[PaymentMethod]):
    """The method and its gateway's credentials, which are write-only: a blank secret keeps the current one."""

    class Meta:
        model = PaymentMethod
        fields = [
            "name", "gateway", "instructions", "minimum", "maximum", "fee_percent", "bonus_percent", "bonus_minimum",
            "is_active", "position",
        ]  # fmt: skip

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.instance.is_manual:
            for spec in credential_specs(self.instance.gateway):
                if not spec.secret:
                    name = _credential_field(self.instance.gateway, spec)
                    self.initial[name] = self.instance.credentials.get(spec.name, "")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        gateway = data.get("gateway")
        if gateway is None:
            return data
        if self.instance.pk and gateway != self.instance.gateway and self.instance.payments.exists():
            # Its payments' notifications are verified with these credentials: add a new method instead.
            self.add_error("gateway", "This method has payments: add a new method for another gateway.")
            return data
        given = {spec.name: data.get(_credential_field(gateway, spec), "") for spec in credential_specs(gateway)}
        current = self.instance.credentials if self.instance.gateway == gateway else {}
        try:
            self.instance.credentials = credentials_clean(gateway, given, current)
        except ValidationError as exc:
            self.add_error(None, exc)
        return data


# The credential fields are declared fields (the admin's fieldsets name them), made from the gateways' own lists.
PaymentMethodForm = type("PaymentMethodForm", (_PaymentMethodForm,), _credential_form_fields())


@admin.register(PaymentMethod)
class PaymentMethodAdmin(admin.ModelAdmin[PaymentMethod]):
    form = PaymentMethodForm
    list_display = ["name", "gateway", "minimum", "maximum", "fee_percent", "bonus", "is_active", "position"]
    list_editable = ["is_active", "position"]
    list_filter = ["gateway", "is_active"]
    search_fields = ["name"]
    readonly_fields = ["credentials_display", "webhook_url"]

    def get_fieldsets(self, request: HttpRequest, obj: PaymentMethod | None = None) -> Any:
        credential_fields = [_credential_field(g, spec) for g in GATEWAY_CLASSES for spec in credential_specs(g)]
        sets: list[Any] = [
            (None, {"fields": ["name", "gateway", "is_active", "position", "instructions"]}),
            ("Amounts", {"fields": ["minimum", "maximum", "fee_percent", "bonus_percent", "bonus_minimum"]}),
            ("Credentials", {
                "fields": [*(["credentials_display", "webhook_url"] if obj else []), *credential_fields],
                "description": "Only the chosen gateway's credentials are kept. Manual methods need none.",
            }),
        ]  # fmt: skip
        return sets

    @admin.display(description="bonus")
    def bonus(self, obj: PaymentMethod) -> str:
        if not obj.bonus_percent:
            return "—"
        return f"+{obj.bonus_percent}% from {obj.bonus_minimum}"

    @admin.display(description="saved credentials")
    def credentials_display(self, obj: PaymentMethod) -> str:
        shown = credentials_shown(obj)
        if not shown:
            return "—"
        return format_html_join("", "<div>{}: <code>{}</code></div>", shown)

    @admin.display(description="notification URL")
    def webhook_url(self, obj: PaymentMethod) -> str:
        if obj.is_manual:
            return "—"
        return format_html("<code>{}</code>", reverse("payment_webhook", args=[obj.gateway]))


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


class RefundForm(forms.Form):
    amount = forms.DecimalField(
        required=False, min_value=Decimal("0.01"), max_digits=AMOUNT_DIGITS, decimal_places=AMOUNT_PLACES,
        help_text="In the currency paid. Blank: all that is left of the payment.",
    )  # fmt: skip


def _payment_row(payment: Payment) -> list[object]:
    return [
        payment.pk, payment.created_at, payment.user, payment.method.name, f"{payment.total} {payment.currency}",
        payment.get_state_display(),
    ]  # fmt: skip


@admin.register(Payment)
class PaymentAdmin(CsvExportAdmin[Payment], ReadOnlyAdmin[Payment]):
    csv_name = "payments"
    csv_columns = [
        ("id", "id"), ("created", "created_at"), ("customer", "user.username"), ("method", "method.name"),
        ("gateway", "gateway"), ("amount", "amount"), ("fee", "fee"), ("bonus", "bonus"), ("currency", "currency"),
        ("state", "state"), ("reference", "reference"), ("succeeded", "succeeded_at"),
    ]  # fmt: skip
    list_display = [
        "id", "created_at", "user", "method", "amount", "fee", "bonus", "currency", "state", "reference",
        "succeeded_at", "problem",
    ]  # fmt: skip
    list_filter = ["state", "method", "gateway", "created_at"]
    list_select_related = ["user", "method"]
    search_fields = ["user__username", "user__email", "=reference", "=id"]
    date_hierarchy = "created_at"
    actions = ["check_now", "refund"]

    def has_check_permission(self, request: HttpRequest) -> bool:
        # Asking may credit the payment (when the gateway confirms it): more than looking.
        return request.user.has_perm("billing.change_payment")

    def has_refund_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("billing.refund_payment")

    @admin.action(description="Ask the gateway for the state now", permissions=["check"])
    def check_now(self, request: HttpRequest, queryset: QuerySet[Payment]) -> None:
        outcomes = [payment_check(payment_id=pk) for pk in queryset.values_list("pk", flat=True)[:100]]
        credited = outcomes.count("credited")
        messages.info(request, f"Asked about {len(outcomes)} payment(s): {credited} credited now.")

    @admin.action(description="Refund through the gateway (debits the wallet)", permissions=["refund"])
    def refund(self, request: HttpRequest, queryset: QuerySet[Payment]) -> HttpResponse | None:
        payments = list(queryset.select_related("user", "method")[:2])
        if len(payments) != 1:
            messages.error(request, "Select exactly one payment to refund.")
            return None
        payment = payments[0]
        form = RefundForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            try:
                reversal = payment_refund(payment_id=payment.pk, amount=form.cleaned_data["amount"],
                                          actor=signed_in(request))  # fmt: skip
            except RefundRefused as exc:
                messages.error(request, f"Payment {payment.pk}: {exc.message}")
                return None
            if reversal is None:
                messages.warning(
                    request,
                    f"Payment {payment.pk}: the refund is under way at the gateway (or was taken back already): the "
                    "wallet is debited when the gateway confirms it.",
                )
            else:
                owed = f", {reversal.owed} owed (orders on hold)" if reversal.owed else ""
                messages.success(request, f"Payment {payment.pk}: refunded {reversal.amount} {payment.currency}; "
                                          f"{reversal.taken} taken from the wallet{owed}.")  # fmt: skip
            return None
        intro = (
            f"The gateway gives the money back to the customer, then the same share of what was credited "
            f"({payment.amount} + bonus {payment.bonus} {settings.PANEL_CURRENCY}) is taken from the wallet. What "
            "the wallet no longer holds is recorded as debt, and the customer's new orders are held until it is "
            "settled. Recorded with your name."
        )
        return action_confirmation(
            request, self, action="refund", title="Refund a payment", submit="Refund", objects=payments,
            columns=["Payment", "Created", "Customer", "Method", "Paid", "State"], row=_payment_row, form=form,
            intro=intro,
        )  # fmt: skip


class OpenDebtFilter(admin.SimpleListFilter):
    title = "debt"
    parameter_name = "debt"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("open", "Owed, not settled"), ("settled", "Settled")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "open":
            return queryset.filter(owed__gt=F("collected"), settled_at__isnull=True)
        if self.value() == "settled":
            return queryset.filter(settled_at__isnull=False)
        return queryset


class WriteOffForm(forms.Form):
    note = forms.CharField(max_length=500, help_text="Why (the customer paid outside the panel, a goodwill gesture).")


@admin.register(PaymentReversal)
class PaymentReversalAdmin(ReadOnlyAdmin[PaymentReversal]):
    list_display = [
        "id", "created_at", "customer", "payment", "kind", "amount", "taken", "owed", "collected", "actor",
        "settled_at", "settled_by", "settlement_note",
    ]  # fmt: skip
    list_filter = [OpenDebtFilter, "kind", "created_at"]
    list_select_related = ["payment__user", "actor", "settled_by"]
    search_fields = ["payment__user__username", "=reference", "=payment__reference"]
    actions = ["collect", "write_off"]

    @admin.display(description="customer", ordering="payment__user__username")
    def customer(self, obj: PaymentReversal) -> User:
        return obj.payment.user

    def has_settle_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("billing.settle_debt")

    def _customers(self, queryset: QuerySet[PaymentReversal]) -> list[User]:
        return list(User.objects.filter(payments__reversals__in=queryset).distinct().order_by("pk"))

    @admin.action(description="Collect the debt from the wallet (what it holds now)", permissions=["settle"])
    def collect(self, request: HttpRequest, queryset: QuerySet[PaymentReversal]) -> None:
        actor = signed_in(request)
        for user in self._customers(queryset):
            collected = debt_collect(user=user, actor=actor)
            left = Wallet.objects.get(user=user).debt
            messages.info(request, f"{user}: collected {collected} {settings.PANEL_CURRENCY}, {left} still owed.")

    @admin.action(description="Write the debt off with a note", permissions=["settle"])
    def write_off(self, request: HttpRequest, queryset: QuerySet[PaymentReversal]) -> HttpResponse | None:
        reversals = list(queryset.select_related("payment__user"))
        form = WriteOffForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            return action_confirmation(
                request, self, action="write_off", title="Write off debts", submit="Write off", objects=reversals,
                form=form, intro="What these customers still owe is forgiven: their new orders are no longer held. "
                "No money moves. Recorded with your name and note.",
            )  # fmt: skip
        actor = signed_in(request)
        for user in self._customers(queryset):
            forgiven = debt_write_off(user=user, actor=actor, note=form.cleaned_data["note"])
            messages.info(request, f"{user}: wrote off {forgiven} {settings.PANEL_CURRENCY}.")
        return None


class PayoutForm(OnceForm):
    amount = forms.DecimalField(
        required=False, min_value=Decimal("0.00001"), max_digits=AMOUNT_DIGITS, decimal_places=AMOUNT_PLACES,
        help_text="Blank: all of the affiliate earnings.",
    )  # fmt: skip
    note = forms.CharField(max_length=500, help_text="How and where it was paid: kept in the ledger with your name.")


@admin.register(AffiliateAccount)
class AffiliateAccountAdmin(admin.ModelAdmin[AffiliateAccount]):
    """Customers' affiliate accounts: only the commission percent is edited here (audited); earnings move by
    commissions, the customer's transfers and the payouts recorded with the action."""

    list_display = ["user", "code", "commission_percent", "balance", "debt", "referred", "created_at"]
    list_editable = ["commission_percent"]
    list_select_related = ["user", "wallet"]
    search_fields = ["user__username", "user__email", "=code"]
    fields = ["user", "code", "commission_percent", "balance", "debt", "referred", "created_at"]
    readonly_fields = ["user", "code", "balance", "debt", "referred", "created_at"]
    actions = ["pay_out"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[AffiliateAccount]:
        return super().get_queryset(request).annotate(referred_count=Count("user__referrals"))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # opened by the customer's affiliates page

    def has_delete_permission(self, request: HttpRequest, obj: AffiliateAccount | None = None) -> bool:
        return False

    def has_pay_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("billing.pay_affiliate")

    @admin.display(description="earnings", ordering="wallet__balance")
    def balance(self, obj: AffiliateAccount) -> Decimal:
        return obj.wallet.balance

    @admin.display(description="owed", ordering="wallet__debt")
    def debt(self, obj: AffiliateAccount) -> Decimal:
        return obj.wallet.debt

    @admin.display(description="referred customers", ordering="referred_count")
    def referred(self, obj: AffiliateAccount) -> int:
        return obj.referred_count  # type: ignore[attr-defined, no-any-return]

    def save_model(self, request: HttpRequest, obj: AffiliateAccount, form: Any, change: bool) -> None:
        affiliate_percent_set(account_id=obj.pk, percent=obj.commission_percent, actor=signed_in(request))

    @admin.action(description="Record a payout outside the panel", permissions=["pay"])
    def pay_out(self, request: HttpRequest, queryset: QuerySet[AffiliateAccount]) -> HttpResponse | None:
        accounts = list(queryset.select_related("user", "wallet")[:2])
        if len(accounts) != 1:
            messages.error(request, "Select exactly one affiliate account to record a payout for.")
            return None
        account = accounts[0]
        form = PayoutForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            try:
                entry = affiliate_payout(account_id=account.pk, amount=form.cleaned_data["amount"],
                                         actor=signed_in(request), note=form.cleaned_data["note"],
                                         once=form.cleaned_data["once"])  # fmt: skip
            except (AffiliateRefused, InvalidAmount) as exc:
                messages.error(request, f"Affiliate account of {account.user}: {exc.message}")
                return None
            messages.success(request, f"Affiliate account of {account.user}: paid out {-entry.amount} "
                                      f"{settings.PANEL_CURRENCY}, {entry.balance_after} left.")  # fmt: skip
            return None
        intro = (
            f"{account.user} has {account.wallet.balance} {settings.PANEL_CURRENCY} of affiliate earnings. Record "
            "here what you paid them outside the panel (a bank transfer, say): it leaves their affiliate balance as a "
            "payout entry, with your name and the note."
        )
        return action_confirmation(
            request, self, action="pay_out", title="Record a payout", submit="Record payout", objects=accounts,
            form=form, intro=intro,
        )  # fmt: skip


@admin.register(CommissionReversal)
class CommissionReversalAdmin(ReadOnlyAdmin[CommissionReversal]):
    """What later refunds took back of referrers' commissions: taken from the affiliate wallet, or owed (repaid
    by the next commissions first)."""

    list_display = ["id", "created_at", "referrer", "order_link", "due", "taken", "owed", "refund", "entry"]
    list_select_related = ["wallet__affiliate_account__user", "refund", "entry"]
    search_fields = ["wallet__affiliate_account__user__username", "=refund__order__id"]
    date_hierarchy = "created_at"

    @admin.display(description="referrer", ordering="wallet__affiliate_account__user__username")
    def referrer(self, obj: CommissionReversal) -> User:
        return obj.wallet.affiliate_account.user

    @admin.display(description="order", ordering="refund__order_id")
    def order_link(self, obj: CommissionReversal) -> str:
        url = reverse("admin:orders_order_change", args=[obj.refund.order_id])
        return format_html('<a href="{}">{}</a>', url, obj.refund.order_id)


@admin.register(Referral)
class ReferralAdmin(ReadOnlyAdmin[Referral]):
    """Who referred whom: fixed at sign-up, never changed."""

    list_display = ["referred", "referrer", "created_at"]
    list_select_related = ["referred", "referrer"]
    search_fields = ["referred__username", "referrer__username"]
    date_hierarchy = "created_at"
