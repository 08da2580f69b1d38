"""Django admin for alerts: read-only, with one action, marking incidents resolved."""

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from backoffice.alerts import alerts_resolve
from backoffice.models import Alert
from panel.admin import ReadOnlyAdmin


class OpenFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("open", "Open"), ("resolved", "Resolved")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "open":
            return queryset.filter(resolved_at__isnull=True)
        if self.value() == "resolved":
            return queryset.filter(resolved_at__isnull=False)
        return queryset


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin[Alert]):
    list_display = ["id", "created_at", "kind", "subject", "link", "emailed_at", "telegram_at", "resolved_at"]
    list_filter = [OpenFilter, "kind", "created_at"]
    search_fields = ["subject", "=key"]
    date_hierarchy = "created_at"
    actions = ["mark_resolved"]

    @admin.display(description="admin page")
    def link(self, obj: Alert) -> str:
        return format_html('<a href="{}">open</a>', obj.url) if obj.url else "—"

    def has_resolve_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("backoffice.change_alert")

    @admin.action(description="Mark resolved (the next incident alerts again)", permissions=["resolve"])
    def mark_resolved(self, request: HttpRequest, queryset: QuerySet[Alert]) -> None:
        resolved = alerts_resolve(alerts=queryset)
        messages.info(request, f"Resolved {resolved} alert(s).")
