"""The admin's model permissions, applied to the staff API: reading needs `view_<model>`, and each action the
permission its admin action checks (declared with `requires`). The schema reads the same declarations."""

from collections.abc import Callable
from typing import Any, TypeVar

from django.contrib.auth.models import Permission
from django.db.models import Q
from rest_framework.permissions import DjangoModelPermissions
from rest_framework.request import Request
from rest_framework.views import APIView

_F = TypeVar("_F", bound=Callable[..., Any])
VIEW = "%(app_label)s.view_%(model_name)s"


def granted(*, user: Any) -> set[str]:
    """The user's model permissions, their own and their groups', as Django's ModelBackend grants them
    (user.get_all_permissions()), in one query where the backend takes two: the staff API checks them on every
    request."""
    rows = (
        Permission.objects.filter(Q(user=user) | Q(group__user=user))
        .values_list("content_type__app_label", "codename")
        .distinct()
    )
    return {f"{app_label}.{codename}" for app_label, codename in rows}


def requires(*permissions: str) -> Callable[[_F], _F]:
    """Declare the model permissions a viewset action needs (those of the admin action that does the same)."""

    def declare(func: _F) -> _F:
        func.required_permissions = permissions  # type: ignore[attr-defined]
        return func

    return declare


class StaffModelPermissions(DjangoModelPermissions):
    """DjangoModelPermissions with the view permission for reading (DRF's default asks nothing for GET), and the
    declared permissions of custom actions in place of the method's. Staff only: a customer has no rights here
    even if a permission was granted to them by mistake."""

    perms_map = {
        "GET": [VIEW],
        "OPTIONS": [VIEW],
        "HEAD": [VIEW],
        "POST": ["%(app_label)s.add_%(model_name)s"],
        "PUT": ["%(app_label)s.change_%(model_name)s"],
        "PATCH": ["%(app_label)s.change_%(model_name)s"],
        "DELETE": ["%(app_label)s.delete_%(model_name)s"],
    }

    def required(self, view: APIView, method: str) -> list[str]:
        """The permissions a request with this method to this view needs."""
        action = getattr(view, "action", None)
        declared = getattr(getattr(view, action, None), "required_permissions", None) if action else None
        if declared is not None:
            return list(declared)
        return self.get_required_permissions(method, self._queryset(view).model)

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.is_staff and user.is_active):
            return False
        return user.is_superuser or set(self.required(view, request.method or "GET")) <= granted(user=user)
