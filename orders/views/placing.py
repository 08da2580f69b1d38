"""Stub: replaced by the new-order and mass-order pages."""

from django.http import HttpRequest, HttpResponse


def order_new(request: HttpRequest) -> HttpResponse:
    return HttpResponse("new order")


def order_quote_json(request: HttpRequest) -> HttpResponse:
    return HttpResponse("quote")


def order_mass(request: HttpRequest) -> HttpResponse:
    return HttpResponse("mass")
