"""Stub."""

from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse

login = auth_views.LoginView.as_view()
logout = auth_views.LogoutView.as_view()
password_reset = auth_views.PasswordResetView.as_view()
password_reset_done = auth_views.PasswordResetDoneView.as_view()
password_reset_confirm = auth_views.PasswordResetConfirmView.as_view()
password_reset_complete = auth_views.PasswordResetCompleteView.as_view()


def signup(request: HttpRequest) -> HttpResponse:
    return HttpResponse("signup")


def account(request: HttpRequest) -> HttpResponse:
    return HttpResponse("account")


def language(request: HttpRequest) -> HttpResponse:
    return HttpResponse("language")
