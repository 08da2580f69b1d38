"""The staff tokens in Django admin: who has one and since when (never the secret); deleting one revokes it."""

from django.contrib import admin
from django.http import HttpRequest

from api.models import StaffToken


@admin.register(StaffToken)
class StaffTokenAdmin(admin.ModelAdmin[StaffToken]):
    list_display = ["user", "prefix", "created_at"]
    search_fields = ["user__username", "=prefix"]
    list_select_related = ["user"]
    fields = ("user", "prefix", "created_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Tokens are issued by `manage.py staff_token`, which shows the token once.
        return False

    def has_change_permission(self, request: HttpRequest, obj: StaffToken | None = None) -> bool:
        return False
