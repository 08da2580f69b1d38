"""Stub: replaced by the API page."""

from django.http import HttpRequest, HttpResponse


def api_page(request: HttpRequest) -> HttpResponse:
    return HttpResponse("api")
