"""The Add funds page: the balance, how to pay, the customer's deposit requests and their ledger."""

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.http import signed_in
from billing.models import REFERENCE_MAX_LENGTH, PaymentMethod
from billing.selectors import deposit_requests_of, ledger_page_of, payment_methods_offered
from billing.services import deposit_request_create
from panel.errors import ApplicationError
from panel.formatting import money


def _method_label(method: PaymentMethod) -> str:
    if not method.minimum:
        return method.name
    return _("%(name)s (at least %(minimum)s)") % {"name": method.name, "minimum": money(method.minimum)}


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


@login_required
def funds(request: HttpRequest) -> HttpResponse:
    """GET shows the page; POST records a deposit request, or shows the form again with the problem."""
    user = signed_in(request)
    methods = payment_methods_offered()
    form = DepositForm(request.POST if request.method == "POST" else None, methods=methods)
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
    context = {
        "form": form,
        "methods": methods,
        "deposits": deposit_requests_of(user=user),
        "ledger": ledger_page_of(user=user, page=request.GET.get("page")),
    }
    return render(request, "billing/funds.html", context)
