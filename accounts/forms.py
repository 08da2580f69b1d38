"""The forms of the sign-up and account pages: they check input; accounts.services does the writing."""

import zoneinfo
from functools import cache
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.forms import PasswordChangeForm
from django.contrib.auth.password_validation import password_validators_help_texts, validate_password
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from accounts.throttle import password_confirmed


@cache
def time_zone_choices() -> list[tuple[str, str]]:
    return [(name, name.replace("_", " ")) for name in sorted(zoneinfo.available_timezones())]


class QuickSelect(forms.Select):
    """A select of hundreds of options (the time zones) in one loop of its template instead of an include per
    option, which made most of the account page's 100 ms. No option groups, no attributes per option."""

    template_name = "panel/widgets/quick_select.html"


class SignupForm(forms.Form):
    username = forms.CharField(label=_("Username"), max_length=150, help_text=_("Letters, digits and @/./+/-/_ only."))
    email = forms.EmailField(label=_("Email"), help_text=_("For password resets; never shown to anyone."))
    password = forms.CharField(
        label=_("Password"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )
    password_again = forms.CharField(
        label=_("Password again"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["username"].widget.attrs.update({"autocomplete": "username", "autofocus": True})
        self.fields["email"].widget.attrs["autocomplete"] = "email"
        self.fields["password"].help_text = " ".join(password_validators_help_texts())

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        password, again = data.get("password"), data.get("password_again")
        if password and again and password != again:
            self.add_error("password_again", _("The two passwords differ."))
        elif password:
            candidate = User(username=data.get("username", ""), email=data.get("email", ""))
            try:
                validate_password(password, candidate)
            except forms.ValidationError as exc:
                self.add_error("password", exc)
        return data


class ProfileForm(forms.Form):
    email = forms.EmailField(label=_("Email"))
    current_password = forms.CharField(
        label=_("Current password"),
        strip=False,
        required=False,
        help_text=_("Needed only to change the email."),
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    language = forms.ChoiceField(
        label=_("Language"), choices=[("", _("As my browser asks")), *settings.LANGUAGES], required=False
    )
    time_zone = forms.ChoiceField(
        label=_("Time zone"),
        choices=time_zone_choices,
        help_text=_("Dates on your pages are shown in it."),
        widget=QuickSelect,
    )

    def __init__(self, *args: Any, request: HttpRequest, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.request, self.user = request, user

    def clean(self) -> dict[str, Any]:
        # The email receives password resets: whoever finds a session open must not be able to redirect them.
        data = super().clean() or {}
        email = data.get("email")
        if email is not None and email.lower() != self.user.email.lower():
            password = data.get("current_password") or ""
            if not password or not password_confirmed(request=self.request, user=self.user, password=password):
                self.add_error("current_password", _("Enter your current password to change the email."))
        data.pop("current_password", None)
        return data


class CheckedPasswordChangeForm(PasswordChangeForm):
    """Django's password change, its old password checked through authenticate() so that the throttle counts it."""

    def __init__(self, user: User, *args: Any, request: HttpRequest, **kwargs: Any) -> None:
        super().__init__(user, *args, **kwargs)
        self.request = request

    def clean_old_password(self) -> str:
        old_password: str = self.cleaned_data["old_password"]
        if not password_confirmed(request=self.request, user=self.user, password=old_password):
            raise forms.ValidationError(self.error_messages["password_incorrect"], code="password_incorrect")
        return old_password
