"""Stub: replaced by the funds page."""

from django.http import HttpRequest, HttpResponse


def funds(request: HttpRequest) -> HttpResponse:
    return HttpResponse("funds")
