"""Signing up and in, password resets, the account page and the language switch."""

from base64 import b32encode
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.forms import CheckedPasswordChangeForm, ProfileForm, SignupForm
from accounts.http import signed_in
from accounts.services import account_update, customer_create, user_language_set
from accounts.throttle import TOO_MANY_ATTEMPTS
from accounts.two_factor import (
    has_totp,
    qr_code_svg,
    totp_enrolment_confirm,
    totp_enrolment_start,
    two_factor_turn_off,
    two_factor_verify,
    verified,
)
from billing.affiliates.http import referral_cookie_code, referral_cookie_drop, referral_cookie_drop_own
from notifications.forms import NotificationPreferencesForm
from notifications.selectors import notification_preferences_of
from notifications.services import notification_preferences_set
from panel.errors import ApplicationError
from panel.ratelimit import allow, client_address

FORM_SWITCHES = list(NotificationPreferencesForm.base_fields)


def _limited(request: HttpRequest, name: str, limit: int) -> bool:
    return not allow(name=f"{name}:{client_address(request)}", limit=limit, window=settings.AUTH_RATE_WINDOW)


class LoginForm(AuthenticationForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["username"].widget.attrs["autocomplete"] = "username"
        self.fields["password"].widget.attrs["autocomplete"] = "current-password"


_login_view = auth_views.LoginView.as_view(
    template_name="accounts/login.html", authentication_form=LoginForm, redirect_authenticated_user=True
)


def _refused(request: HttpRequest, template: str, form: Any) -> HttpResponse:
    # An unbound form: a refused attempt must not cost a password hash (nor tell whether the password was right).
    return render(request, template, {"form": form, "refused": TOO_MANY_ATTEMPTS}, status=429)


def login(request: HttpRequest) -> HttpResponseBase:
    """Django's sign-in, limited per client address (every attempt); django-axes locks failing (user, address)
    pairs (accounts.throttle)."""
    if request.method == "POST" and _limited(request, "login", settings.LOGIN_RATE_LIMIT):
        username = request.POST.get("username", "")[:150]
        return _refused(request, "accounts/login.html", LoginForm(request, initial={"username": username}))
    response = _login_view(request)
    referral_cookie_drop_own(request, response)
    return response


logout = auth_views.LogoutView.as_view()
_password_reset_view = auth_views.PasswordResetView.as_view(
    template_name="accounts/password_reset.html",
    email_template_name="accounts/password_reset_email.txt",
    subject_template_name="accounts/password_reset_subject.txt",
)


def password_reset(request: HttpRequest) -> HttpResponseBase:
    """Django's reset by email, rate limited per client address so that nobody floods a mailbox through us."""
    if request.method == "POST" and _limited(request, "password-reset", settings.SIGNUP_RATE_LIMIT):
        return _refused(request, "accounts/password_reset.html", PasswordResetForm())
    return _password_reset_view(request)


password_reset_done = auth_views.PasswordResetDoneView.as_view(template_name="accounts/password_reset_done.html")
password_reset_confirm = auth_views.PasswordResetConfirmView.as_view(
    template_name="accounts/password_reset_confirm.html"
)
password_reset_complete = auth_views.PasswordResetCompleteView.as_view(
    template_name="accounts/password_reset_complete.html"
)


def _apply(form: Any, exc: ApplicationError | ValidationError) -> None:
    if isinstance(exc, ApplicationError):
        form.add_error(exc.field if exc.field in form.fields else None, exc.translated())
    else:
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)


def signup(request: HttpRequest) -> HttpResponse:
    """A new customer, referred by whoever's referral link this browser followed (a signed-in one signs up no one,
    so a referrer cannot refer an account they create while signed in)."""
    if request.user.is_authenticated:
        return redirect("home")
    form = SignupForm(request.POST or None)
    if request.method == "POST":
        if _limited(request, "signup", settings.SIGNUP_RATE_LIMIT):
            kept = {name: request.POST.get(name, "") for name in ("username", "email")}
            return _refused(request, "accounts/signup.html", SignupForm(initial=kept))
        if form.is_valid():
            try:
                user = customer_create(
                    username=form.cleaned_data["username"],
                    email=form.cleaned_data["email"],
                    password=form.cleaned_data["password"],
                    language=translation.get_language() or "",
                    referral_code=referral_cookie_code(request),
                )
            except (ApplicationError, ValidationError) as exc:
                _apply(form, exc)
            else:
                auth_login(request, user, backend="django.contrib.auth.backends.ModelBackend")
                messages.success(request, _("Welcome! Add funds to place your first order."))
                response = redirect("home")
                referral_cookie_drop(response)
                return response
    return render(request, "accounts/signup.html", {"form": form})


def _next_page(request: HttpRequest, default: str) -> str:
    """The page to go on to: a path of this site ("orders" is none, and redirect() would look it up as a view)."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    safe = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    if safe and target.startswith("/"):
        return target
    return default


@login_required
def two_factor(request: HttpRequest) -> HttpResponse:
    """The second step of signing in: enrol a TOTP app (staff must, customers may), or confirm a code."""
    user = signed_in(request)
    target = _next_page(request, "/admin/" if user.is_staff else reverse("account"))
    code = request.POST.get("code", "")[:64] if request.method == "POST" else ""
    if has_totp(user=user):
        if verified(request=request):
            return HttpResponseRedirect(target)
        error = ""
        if request.method == "POST":
            if two_factor_verify(request=request, user=user, token=code):
                return HttpResponseRedirect(target)
            error = _("That code is not right, or was used already. Try the current one.")
        return render(request, "accounts/two_factor.html", {"next": target, "error": error})
    error = ""
    if request.method == "POST":
        codes = totp_enrolment_confirm(request=request, user=user, token=code)
        if codes is not None:
            return render(request, "accounts/two_factor_backup_codes.html", {"codes": codes, "next": target})
        error = _("That code is not right. Check the time on your phone and try the current one.")
    device = totp_enrolment_start(user=user)
    context = {
        # Drawn by qrcode from our own otpauth:// URL (path data only, no text from the user): safe to inline.
        "qr_code": mark_safe(qr_code_svg(device=device)),  # noqa: S308  # nosec B703 B308 - see the line above
        "secret": b32encode(device.bin_key).decode(),
        "next": target,
        "error": error,
    }
    return render(request, "accounts/two_factor.html", context)


@login_required
def account(request: HttpRequest) -> HttpResponse:
    user = signed_in(request)
    initial = {"email": user.email, "language": user.language, "time_zone": user.time_zone}
    profile = ProfileForm(initial=initial, request=request, user=user)
    password = CheckedPasswordChangeForm(user, request=request)
    if request.method == "POST" and request.POST.get("form") == "profile":
        profile = ProfileForm(request.POST, request=request, user=user)
        if profile.is_valid():
            try:
                account_update(user=user, **profile.cleaned_data)
            except ApplicationError as exc:
                _apply(profile, exc)
            else:
                translation.activate(user.language or translation.get_language_from_request(request))
                messages.success(request, _("Your settings are saved."))
                return redirect("account")
    elif request.method == "POST" and request.POST.get("form") == "password":
        password = CheckedPasswordChangeForm(user, request.POST, request=request)
        if password.is_valid():
            password.save()
            update_session_auth_hash(request, password.user)
            messages.success(request, _("Your password is changed."))
            return redirect("account")
    preferences = notification_preferences_of(user=user)
    emails = NotificationPreferencesForm(initial={name: getattr(preferences, name) for name in FORM_SWITCHES})
    if request.method == "POST" and request.POST.get("form") == "notifications":
        emails = NotificationPreferencesForm(request.POST)
        if emails.is_valid():
            notification_preferences_set(user=user, **emails.cleaned_data)
            messages.success(request, _("Your email choices are saved."))
            return redirect("account")
    two_factor_error = ""
    if request.method == "POST" and request.POST.get("form") == "two_factor_off":
        password_text, code = request.POST.get("current_password", ""), request.POST.get("code", "")
        if two_factor_turn_off(request=request, user=user, password=password_text, token=code):
            messages.success(request, _("Two-factor sign-in is off."))
            return redirect("account")
        two_factor_error = _("The password or the code is not right.")
    context = {
        "profile": profile,
        "password": password,
        "emails": emails,
        "two_factor_on": has_totp(user=user),
        "two_factor_error": two_factor_error,
    }
    return render(request, "accounts/account.html", context)


@require_POST
def language(request: HttpRequest) -> HttpResponse:
    """The language switch on every page: a cookie for everyone, and the account's setting when signed in."""
    code = request.POST.get("language", "")
    target = request.POST.get("next", "/")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = "/"
    response = HttpResponseRedirect(target)
    if code in dict(settings.LANGUAGES):
        if request.user.is_authenticated:
            user_language_set(user=request.user, language=code)
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME, code, max_age=365 * 24 * 3600, samesite="Lax", secure=request.is_secure()
        )
    return response
