"""The account page's email choices: the form checks input; notifications.services saves it."""

from django import forms
from django.utils.translation import gettext_lazy as _


class NotificationPreferencesForm(forms.Form):
    email_web_orders = forms.BooleanField(label=_("an order placed on the website ends"), required=False)
    email_api_orders = forms.BooleanField(label=_("an order placed through the API ends"), required=False)
    email_web_refills = forms.BooleanField(label=_("a refill of an order placed on the website ends"), required=False)
    email_api_refills = forms.BooleanField(label=_("a refill of an order placed through the API ends"), required=False)
