from axes.admin import AccessAttemptAdmin
from axes.models import AccessAttempt
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.http import HttpRequest

from accounts.models import User

admin.site.register(User, UserAdmin)


class SignInAttemptAdmin(AccessAttemptAdmin):  # type: ignore[misc]  # axes ships no type hints
    """django-axes' list of locked sign-ins, with its clean-up action only for staff who may delete them."""

    @admin.action(description="Clean up expired attempts", permissions=["delete"])
    def cleanup_expired_attempts(self, request: HttpRequest, queryset: object) -> None:
        super().cleanup_expired_attempts(request, queryset)


admin.site.unregister(AccessAttempt)
admin.site.register(AccessAttempt, SignInAttemptAdmin)
