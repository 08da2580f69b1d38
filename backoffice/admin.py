"""Django admin for the audit trail: looked at and filtered, never added to, edited or deleted by hand."""

import json

from django.contrib import admin
from django.utils.html import format_html

from backoffice.models import AuditEntry
from panel.admin import ReadOnlyAdmin

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
