"""Django admin for the back office: alerts (read-only, with one action, marking incidents resolved) and the
audit trail (looked at and filtered, never added to, edited or deleted by hand)."""

import json
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from backoffice.alerts import alerts_resolve
from backoffice.models import Alert, AuditEntry
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


SHOWN = (
    "created_at",
    "actor",
    "action",
    "target_type",
    "target_id",
    "target_repr",
    "before_shown",
    "after_shown",
    "note",
)


def _pretty(values: object) -> str:
    return format_html("<pre>{}</pre>", json.dumps(values, indent=2, sort_keys=True, ensure_ascii=False))


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin[AuditEntry]):
    list_display = ["created_at", "actor", "action", "target_type", "target_id", "target_repr", "changes", "note"]
    list_filter = ["action", "target_type", ("actor", admin.RelatedOnlyFieldListFilter), "created_at"]
    list_select_related = ["actor"]
    search_fields = ["target_repr", "=target_id"]
    date_hierarchy = "created_at"
    fields = readonly_fields = SHOWN

    @admin.display(description="before → after")
    def changes(self, obj: AuditEntry) -> str:
        return format_html("{} → {}", json.dumps(obj.before, sort_keys=True), json.dumps(obj.after, sort_keys=True))

    @admin.display(description="before")
    def before_shown(self, obj: AuditEntry) -> str:
        return _pretty(obj.before)

    @admin.display(description="after")
    def after_shown(self, obj: AuditEntry) -> str:
        return _pretty(obj.after)
