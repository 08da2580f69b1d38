"""What the apps' Django admins share: read-only model admins, the page that confirms an action, and CSV exports
of a changelist as filtered."""

import csv
import datetime
import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from django import forms
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.db.models import Model
from django.http import HttpRequest, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils import timezone

_M = TypeVar("_M", bound=Model)
# A confirmation page lists this many of the selected rows; it still acts on all of them.
SHOWN_ROWS = 50
# A spreadsheet runs a cell starting with one of these as a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
ONCE_TOKEN = re.compile(r"[0-9a-f]{32}")
ONCE_DAMAGED = "This form is damaged: go back to the list and start the action again."


def _once_token() -> str:
    return uuid.uuid4().hex


class ReadOnlyAdmin(admin.ModelAdmin[_M]):
    """Money and order state change only through services: no admin form may add, edit or delete a row."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: _M | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: _M | None = None) -> bool:
        return False


class OnceForm(forms.Form):
    """A confirmation form that moves money: it carries a one-time token, made when the form is first shown, which
    the service stores on the ledger entry it writes (a unique column), so that sending the same form twice
    moves the money once."""

    once = forms.CharField(
        widget=forms.HiddenInput, initial=_once_token, strip=False, error_messages={"required": ONCE_DAMAGED}
    )

    def clean_once(self) -> str:
        once: str = self.cleaned_data["once"]
        if not ONCE_TOKEN.fullmatch(once):
            raise forms.ValidationError(ONCE_DAMAGED)
        return once


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


def csv_cell(value: object) -> object:
    """A value as a CSV cell: text that a spreadsheet would run as a formula is quoted with a leading '."""
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _attribute(obj: object, dotted: str) -> object:
    for name in dotted.split("."):
        if obj is None:
            return None
        obj = getattr(obj, name)
    return obj


class _Echo:
    """csv.writer writes into this and gets the line back, so that rows stream instead of piling up."""

    def write(self, value: str) -> str:
        return value


class CsvExportAdmin(admin.ModelAdmin[_M]):
    """A changelist with an "Export CSV" link: exactly the rows of its current filters, search and ordering, for
    staff who may view the model. `csv_columns` are (header, dotted attribute) pairs."""

    csv_columns: Sequence[tuple[str, str]] = ()
    csv_name = ""
    change_list_template = "admin/csv_export_change_list.html"

    def get_urls(self) -> list[URLPattern]:
        opts = self.model._meta
        export = path(
            "export.csv",
            self.admin_site.admin_view(self.export_csv),
            name=f"{opts.app_label}_{opts.model_name}_export_csv",
        )
        return [export, *super().get_urls()]

    def export_csv(self, request: HttpRequest) -> StreamingHttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            rows = self.get_changelist_instance(request).get_queryset(request)
        except IncorrectLookupParameters:
            raise SuspiciousOperation("unknown filter") from None
        writer = csv.writer(_Echo())
        headers = [header for header, _ in self.csv_columns]

        def lines() -> Iterator[Any]:
            yield writer.writerow(headers)
            for obj in rows.iterator(chunk_size=2000):
                yield writer.writerow([csv_cell(_attribute(obj, name)) for _, name in self.csv_columns])

        name = f"{self.csv_name or self.model._meta.model_name}-{timezone.now():%Y%m%d-%H%M}.csv"
        response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
