"""Stub: replaced by the orders and refills pages."""

from django.http import HttpRequest, HttpResponse


def order_list(request: HttpRequest) -> HttpResponse:
    return HttpResponse("orders")


def order_refill(request: HttpRequest, order_id: int) -> HttpResponse:
    return HttpResponse("refill")


def order_cancel(request: HttpRequest, order_id: int) -> HttpResponse:
    return HttpResponse("cancel")


def refill_list(request: HttpRequest) -> HttpResponse:
    return HttpResponse("refills")
