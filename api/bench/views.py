"""What the stack does at its fastest for each kind of work an API request does, behind the same middleware as
the APIs: nothing (Django, DRF), one indexed read, the debit + order + ledger transaction, a 100-row read.

Each reads its ids from the query string, which bench_api fills in; they answer no one else.
"""

from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.models import LedgerEntry, Wallet
from orders.models import Order
from panel.money import AMOUNT_QUANTUM

# What each transaction takes from the bench's dedicated customer: an add of 100 at 1.35 per 1000.
CHARGE = Decimal("0.13500")


def bare_django(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


class BareDrf(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


def one_read(request: HttpRequest) -> JsonResponse:
    """One SELECT on a unique index: the wallet of ?user=."""
    balance = Wallet.objects.filter(user_id=int(request.GET["user"])).values_list("balance", flat=True).get()
    return JsonResponse({"balance": f"{balance:.5f}", "currency": settings.PANEL_CURRENCY})


@csrf_exempt
@require_POST
def transaction_ceiling(request: HttpRequest) -> JsonResponse:
    """In one transaction: lock the wallet of ?user=, debit it, insert an order of ?service= and its ledger entry.

    The rows and the SQL that placing an order needs, without the rules around them (validation, pricing,
    forwarding) that order_place adds: what the stack allows an `add` at most.
    """
    user_id = int(request.GET["user"])
    with transaction.atomic():
        wallet = Wallet.objects.select_for_update().only("pk", "balance").get(user_id=user_id)
        balance = wallet.balance - CHARGE
        order = Order.objects.create(
            user_id=user_id, service_id=int(request.GET["service"]), provider_id=int(request.GET["provider"]),
            upstream_service_id=1, link="https://example.com/p", quantity=100, rate=Decimal("1.35"), charge=CHARGE,
            cost=Decimal("0.09"),
        )  # fmt: skip
        Wallet.objects.filter(pk=wallet.pk).update(balance=balance)
        LedgerEntry.objects.create(
            wallet=wallet, kind=LedgerEntry.Kind.CHARGE, amount=-CHARGE, balance_after=balance, order=order
        )
    return JsonResponse({"order": order.pk})


def hundred_rows(request: HttpRequest) -> JsonResponse:
    """The orders of ?ids= (100 of them) by primary key, each as `status` shows one."""
    ids = [int(part) for part in request.GET["ids"].split(",")]
    rows = Order.objects.filter(pk__in=ids).values_list("pk", "charge", "start_count", "status", "remains", "quantity")
    return JsonResponse(
        {
            str(pk): {"charge": str(charge.quantize(AMOUNT_QUANTUM)), "start_count": str(start_count or 0),
                      "status": status, "remains": str(quantity if remains is None else remains),
                      "currency": settings.PANEL_CURRENCY}
            for pk, charge, start_count, status, remains, quantity in rows
        }
    )  # fmt: skip
