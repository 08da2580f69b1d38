"""What the apps' Django admins share: read-only model admins, and the page that confirms an action."""

from collections.abc import Callable, Sequence
from typing import TypeVar

from django import forms
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import Model
from django.http import HttpRequest
from django.template.response import TemplateResponse

_M = TypeVar("_M", bound=Model)
# A confirmation page lists this many of the selected rows; it still acts on all of them.
SHOWN_ROWS = 50


class ReadOnlyAdmin(admin.ModelAdmin[_M]):
    """Money and order state change only through services: no admin form may add, edit or delete a row."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: _M | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: _M | None = None) -> bool:
        return False


def action_confirmation(
    request: HttpRequest,
    model_admin: admin.ModelAdmin[_M],
    *,
    action: str,
    title: str,
    submit: str,
    objects: Sequence[_M],
    columns: Sequence[str] = (),
    row: Callable[[_M], Sequence[object]] | None = None,
    form: forms.Form | None = None,
    warning: str = "",
    intro: str = "",
) -> TemplateResponse:
    """The intermediate page of an admin action: what it will do, to which rows, and the form it asks for.

    Submitting it posts the action again for the same rows, with "apply" set.
    """
    shown = objects[:SHOWN_ROWS]
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "opts": model_admin.model._meta,
        "action": action,
        "submit": submit,
        "form": form,
        "warning": warning,
        "intro": intro,
        "columns": columns,
        "rows": [row(obj) for obj in shown] if row else [],
        "more": len(objects) - len(shown),
        "selected": [obj.pk for obj in objects],
        "action_checkbox_name": ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/action_confirmation.html", context)
