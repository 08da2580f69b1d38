"""Stub: replaced by the services page."""

from django.http import HttpRequest, HttpResponse


def service_list(request: HttpRequest) -> HttpResponse:
    return HttpResponse("services")
