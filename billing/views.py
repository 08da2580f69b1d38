"""The Add funds page (the balance, paying through a gateway or telling us of a payment by hand, the customer's
payments, deposit requests and ledger), and the page of one payment, where the customer pays and sees it land."""

from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.http import signed_in
from billing.models import REFERENCE_MAX_LENGTH, Payment, PaymentMethod
from billing.payments import gateway_of
from billing.payments.services import payment_check, payment_start
from billing.selectors import (
    deposit_requests_of,
    ledger_page_of,
    payment_methods_offered,
    payment_of,
    payments_of,
    wallet_balance,
    wallet_debt,
)
from billing.services import deposit_request_create
from panel.errors import ApplicationError
from panel.formatting import money, percent
from panel.ids import record_id
from panel.ratelimit import allow

# Payments a customer may start in PAY_WINDOW seconds (each creates one at the gateway), and how often a page
# may ask the gateway about one payment.
PAY_LIMIT = 10
PAY_WINDOW = 600
CHECK_WINDOW = 10


def _method_label(method: PaymentMethod) -> str:
    if not method.minimum:
        return method.name
    return _("%(name)s (at least %(minimum)s)") % {"name": method.name, "minimum": money(method.minimum)}


def _pay_label(method: PaymentMethod) -> str:
    if not method.fee_percent:
        return method.name
    return _("%(name)s (fee %(fee)s%%)") % {"name": method.name, "fee": percent(method.fee_percent)}


class PayForm(forms.Form):
    """Posted to /funds/pay/: payment_start checks both fields."""

    method = forms.CharField(label=gettext_lazy("Pay with"), required=False, widget=forms.Select)
    amount = forms.CharField(
        label=gettext_lazy("Amount to add"), required=False, widget=forms.TextInput(attrs={"inputmode": "decimal"})
    )

    def __init__(self, *args: Any, methods: list[PaymentMethod], **kwargs: Any) -> None:
        # Its own ids: the deposit request form on the same page has fields of the same names.
        kwargs.setdefault("auto_id", "pay_%s")
        super().__init__(*args, **kwargs)
        self.fields["amount"].help_text = _(
            "In %(currency)s: what your balance gets. A method's fee is added to what you pay, shown before you pay."
        ) % {"currency": settings.PANEL_CURRENCY}
        choices = [(str(m.pk), _pay_label(m)) for m in methods]
        self.fields["method"].widget.choices = choices if len(choices) == 1 else [("", _("Choose…")), *choices]


class DepositForm(forms.Form):
    """The fields as typed: deposit_request_create checks them, and its error lands next to its field."""

    amount = forms.CharField(
        label=gettext_lazy("Amount"), required=False, widget=forms.TextInput(attrs={"inputmode": "decimal"})
    )
    method = forms.CharField(label=gettext_lazy("Payment method"), required=False, widget=forms.Select)
    reference = forms.CharField(
        label=gettext_lazy("Payment reference"),
        required=False,
        widget=forms.TextInput(attrs={"maxlength": REFERENCE_MAX_LENGTH}),
        help_text=gettext_lazy("The transaction id, or the message you gave with the payment, so that we can find it."),
    )

    def __init__(self, *args: Any, methods: list[PaymentMethod], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["amount"].help_text = _("In %(currency)s.") % {"currency": settings.PANEL_CURRENCY}
        self.fields["method"].widget.choices = [("", _("Choose…")), *((str(m.pk), _method_label(m)) for m in methods)]


def _funds_page(request: HttpRequest, *, deposit_form: DepositForm | None = None,
                pay_form: PayForm | None = None) -> HttpResponse:  # fmt: skip
    user = signed_in(request)
    methods = payment_methods_offered()
    manual = [m for m in methods if m.is_manual]
    automatic = [m for m in methods if not m.is_manual]
    context = {
        "deposit_form": deposit_form or DepositForm(methods=manual),
        "pay_form": pay_form or PayForm(methods=automatic),
        "manual_methods": manual,
        "automatic_methods": automatic,
        "debt": wallet_debt(user_id=user.pk),
        "payments": payments_of(user=user),
        "deposits": deposit_requests_of(user=user),
        "ledger": ledger_page_of(user=user, page=request.GET.get("page")),
    }
    return render(request, "billing/funds.html", context)


@login_required
def funds(request: HttpRequest) -> HttpResponse:
    """GET shows the page; POST records a deposit request, or shows the form again with the problem."""
    if request.method != "POST":
        return _funds_page(request)
    user = signed_in(request)
    form = DepositForm(request.POST, methods=[m for m in payment_methods_offered() if m.is_manual])
    if form.is_valid():
        data = form.cleaned_data
        try:
            deposit = deposit_request_create(
                user=user, method_id=data["method"], amount=data["amount"], reference=data["reference"]
            )
        except ApplicationError as exc:
            form.add_error(exc.field, exc.translated())
        else:
            messages.success(
                request,
                _(
                    "Thank you: your deposit of %(amount)s is waiting for our check. "
                    "It is added to your balance once we have found your payment."
                )
                % {"amount": money(deposit.amount)},
            )
            return redirect("funds")
    return _funds_page(request, deposit_form=form)


@login_required
@require_POST
def pay(request: HttpRequest) -> HttpResponse:
    """Start a payment at its gateway, then show it to be paid; or Add funds again with the problem."""
    user = signed_in(request)
    form = PayForm(request.POST, methods=[m for m in payment_methods_offered() if not m.is_manual])
    if form.is_valid():
        if not allow(name=f"pay:{user.pk}", limit=PAY_LIMIT, window=PAY_WINDOW):
            form.add_error(None, _("You started many payments just now: wait a few minutes, then try again."))
            return _funds_page(request, pay_form=form)

        def urls(payment: Payment) -> tuple[str, str]:
            page = request.build_absolute_uri(reverse("payment", args=[payment.pk]))
            return page, request.build_absolute_uri(reverse("payment_webhook", args=[payment.gateway]))

        try:
            payment = payment_start(user=user, method_id=form.cleaned_data["method"],
                                    amount=form.cleaned_data["amount"], urls=urls)  # fmt: skip
        except ApplicationError as exc:
            form.add_error(exc.field, exc.translated())
        else:
            return redirect("payment", payment.pk)
    return _funds_page(request, pay_form=form)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def stripe_policy() -> dict[str, list[str]]:
    """What the card payment page adds to the site's Content-Security-Policy: Stripe.js, its frames and its API
    (Stripe's documented origins, or the server STRIPE_API_BASE and STRIPE_JS_URL point at)."""
    script = _origin(settings.STRIPE_JS_URL)
    api = _origin(settings.STRIPE_API_BASE or "https://api.stripe.com")
    return {
        "script-src": [script],
        "connect-src": sorted({script, api}),
        "frame-src": sorted({script, "https://js.stripe.com", "https://hooks.stripe.com"}),
        "img-src": ["https://*.stripe.com"],
    }


def _checked(request: HttpRequest, payment: Payment) -> Payment:
    """The payment, after asking its gateway (at most every few seconds) when it is still open, or failed (a
    customer who paid after all)."""
    may_change = payment.is_open or payment.state == Payment.State.FAILED
    if may_change and allow(name=f"payment-check:{payment.pk}", limit=1, window=CHECK_WINDOW):
        payment_check(payment_id=payment.pk)
        payment.refresh_from_db()
    return payment


@login_required
def payment_page(request: HttpRequest, payment_id: str) -> HttpResponse:
    """Where the customer pays (Stripe's Payment Element, or a link to the gateway's page), and where the
    gateway sends them back: the page asks the gateway itself, so a lost notification loses no money."""
    user = signed_in(request)
    payment = payment_of(user=user, payment_id=record_id(payment_id))
    if payment is None:
        raise Http404
    payment = _checked(request, payment)
    gateway = gateway_of(payment.method)
    context = {
        "payment": payment,
        "hosted": gateway.hosted,
        "publishable_key": "" if gateway.hosted else gateway.credential("publishable_key"),
        "stripe_js": settings.STRIPE_JS_URL,
        "return_url": request.build_absolute_uri(reverse("payment", args=[payment.pk])),
        "state_url": reverse("payment_state", args=[payment.pk]),
        "locale": (get_language() or "en").split("-")[0],
    }
    response = render(request, "billing/payment.html", context)
    if not gateway.hosted and payment.is_open:
        response._csp_update = stripe_policy()  # type: ignore[attr-defined]  # django-csp reads it
    return response


@login_required
def payment_state(request: HttpRequest, payment_id: str) -> JsonResponse:
    """What the payment page polls: the state, and the balance to show once it is credited."""
    user = signed_in(request)
    payment = payment_of(user=user, payment_id=record_id(payment_id))
    if payment is None:
        raise Http404
    payment = _checked(request, payment)
    return JsonResponse(
        {
            "state": payment.state,
            "label": str(payment.get_state_display()),
            "open": payment.is_open,
            "balance": money(wallet_balance(user_id=user.pk)),
        }
    )
