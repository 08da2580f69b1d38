"""The customer's orders and refills, and each order's Refill and Cancel buttons."""

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.http import signed_in
from orders.models import Order, Refill
from orders.selectors import order_of, orders_for_user, refills_for_user
from orders.services.followups import cancel_allowed, cancel_request, refill_allowed, refill_request
from orders.validation import OrderError

PER_PAGE = 50


@dataclass(frozen=True)
class OrderRow:
    order: Order
    can_refill: bool
    can_cancel: bool
    cancel_in_flight: bool


@dataclass(frozen=True)
class RefillRow:
    refill: Refill
    status: str  # as the customer knows it: our own bookkeeping states are all "Pending"
    status_label: str


def _order_row(order: Order) -> OrderRow:
    refill_in_flight: bool = getattr(order, "refill_in_flight", False)
    cancel_in_flight: bool = getattr(order, "cancel_in_flight", False)
    return OrderRow(
        order=order,
        can_refill=refill_allowed(order, refill_in_flight=refill_in_flight),
        can_cancel=cancel_allowed(order) and not cancel_in_flight,
        cancel_in_flight=cancel_in_flight,
    )


@login_required
def order_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    if status not in Order.Status.values:
        status = ""
    search = request.GET.get("q", "").strip()
    orders = orders_for_user(user=signed_in(request), status=status, search=search)
    page = Paginator(orders, PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "rows": [_order_row(order) for order in page],
        "tabs": [("", _("All")), *Order.Status.choices],
        "status": status,
        "search": search,
    }
    return render(request, "orders/list.html", context)


def _answer(request: HttpRequest, *, ok: bool, message: str) -> HttpResponse:
    """JSON for the page's script; without it, back to the orders page as it was, with a message."""
    if request.headers.get("X-Requested-With") == "fetch":
        return JsonResponse({"ok": ok, "message": message}, status=200 if ok else 400)
    messages.add_message(request, messages.SUCCESS if ok else messages.ERROR, message)
    back = request.POST.get("next", "")
    safe = url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=request.is_secure())
    # A path of this site only: "undefined" (a script's) is no page, and redirect() would look it up as a view's name.
    return HttpResponseRedirect(back if safe and back.startswith("/") else reverse("orders"))


def _signed_in(view: Callable[[HttpRequest, int], HttpResponse]) -> Callable[[HttpRequest, int], HttpResponse]:
    """login_required that brings the customer back to the orders page: the action itself cannot be a GET."""

    @wraps(view)
    def signed_in_view(request: HttpRequest, order_id: int) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(reverse("orders"))
        return view(request, order_id)

    return signed_in_view


@require_POST
@_signed_in
def order_refill(request: HttpRequest, order_id: int) -> HttpResponse:
    try:
        refill_request(user=signed_in(request), order_id=order_id)
    except OrderError as exc:
        return _answer(request, ok=False, message=exc.translated())
    message = _("Refill requested for order %(id)s. Follow it on the Refills page.") % {"id": order_id}
    return _answer(request, ok=True, message=message)


@require_POST
@_signed_in
def order_cancel(request: HttpRequest, order_id: int) -> HttpResponse:
    try:
        upstream_request = cancel_request(user=signed_in(request), order_id=order_id)
    except OrderError as exc:
        return _answer(request, ok=False, message=exc.translated())
    if upstream_request is None and (order := order_of(user=signed_in(request), order_id=order_id)) and order.is_drip:
        message = _(
            "Order %(id)s is stopped: no more runs are placed, and what was not delivered is refunded when its "
            "last run ends."
        )
    elif upstream_request is None:
        message = _("Order %(id)s is canceled and its charge is back in your balance.")
    else:
        message = _("Cancel requested for order %(id)s. If the provider cancels it, the unused part is refunded.")
    return _answer(request, ok=True, message=message % {"id": order_id})


def _refill_row(refill: Refill) -> RefillRow:
    known = (Refill.Status.IN_PROGRESS, *Refill.FINAL)
    status = Refill.Status(refill.status) if refill.status in known else Refill.Status.PENDING
    return RefillRow(refill=refill, status=status.value, status_label=str(status.label))


@login_required
def refill_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(refills_for_user(user=signed_in(request)), PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "orders/refills.html", {"page": page, "rows": [_refill_row(refill) for refill in page]})
