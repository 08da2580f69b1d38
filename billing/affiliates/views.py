"""The affiliates page (the customer's link, their referrals' figures, moving earnings to the main balance) and
the referral link itself, which sends visitors to sign-up with a cookie naming whose link it was."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.http import signed_in
from billing.affiliates.http import referral_cookie_code, referral_cookie_set
from billing.affiliates.selectors import affiliate_account_by_code, affiliate_figures
from billing.affiliates.services import (
    AffiliateRefused,
    affiliate_account_open,
    affiliate_transfer,
    commission_percent,
    referral_visit_count,
)
from panel.formatting import money


@login_required
def affiliates(request: HttpRequest) -> HttpResponse:
    user = signed_in(request)
    account = affiliate_account_open(user=user)
    figures = affiliate_figures(account=account)
    context = {
        "link": request.build_absolute_uri(reverse("referral", args=[account.code])),
        "figures": figures,
        "percent": commission_percent(account.commission_percent),
        "cookie_days": settings.AFFILIATE_COOKIE_DAYS,
        "minimum": settings.AFFILIATE_TRANSFER_MINIMUM,
        "can_move": figures.balance > 0 and figures.balance >= settings.AFFILIATE_TRANSFER_MINIMUM and not figures.debt,
    }
    return render(request, "billing/affiliates.html", context)


@login_required
@require_POST
def affiliate_transfer_view(request: HttpRequest) -> HttpResponse:
    """Move the affiliate earnings to the main balance; the page again, with what happened."""
    try:
        entry = affiliate_transfer(user=signed_in(request))
    except AffiliateRefused as exc:
        messages.error(request, exc.translated())
    else:
        messages.success(request, _("%(amount)s moved to your balance.") % {"amount": money(entry.amount)})
    return redirect("affiliates")


def referral(request: HttpRequest, code: str) -> HttpResponse:
    """A referral link: count the visit, remember whose link it was, and go to sign-up.

    A signed-in customer is no new visitor: following a link (their own, or anyone's) sets nothing.
    """
    account = affiliate_account_by_code(code=code)
    if request.user.is_authenticated:
        if account is not None and account.user_id == request.user.pk:
            messages.info(
                request,
                _("This is your own referral link: whoever signs up through it is referred by you."),
            )
            return redirect("affiliates")
        return redirect("home")
    response = redirect("signup")
    if account is None:
        return response
    if referral_cookie_code(request) != account.code:
        referral_visit_count(account=account, now=timezone.now())
    referral_cookie_set(response, request=request, code=account.code)
    return response
