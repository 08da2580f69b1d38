"""The staff API's OpenAPI 3 schema (drf-spectacular): only the staff endpoints, each operation carrying the
permissions it needs, read from the same declarations the permission class enforces."""

import re
from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import get_doc

from api.staff.permissions import StaffModelPermissions
from api.staff.serializers import ErrorSerializer

PREFIX = "/api/staff/v1/"
PERMISSIONS_KEY = "x-required-permissions"
ERRORS = {
    "400": "Bad input, or the record is not in a state this allows: nothing was changed.",
    "401": "No staff token, or one that is unknown or whose user is no longer active staff.",
    "403": "The token's user lacks the permission this needs.",
    "404": "No such record.",
}


def staff_endpoints_only(endpoints: list[tuple[str, str, str, Any]]) -> list[tuple[str, str, str, Any]]:
    """Preprocessing hook: the schema describes the staff API, not API v2 or anything else built on DRF."""
    return [endpoint for endpoint in endpoints if endpoint[0].startswith(PREFIX)]


def operation_permissions(view: Any, method: str) -> list[str]:
    return StaffModelPermissions().required(view, method)


class StaffAutoSchema(AutoSchema):
    """Each operation names its required permissions in its description and in `x-required-permissions`, and
    documents its error answers."""

    def get_operation_id(self) -> str:
        view: Any = self.view
        return f"{view.basename}_{view.action}".replace("-", "_")

    def get_summary(self) -> str:
        view: Any = self.view
        if view.action in ("list", "retrieve"):
            noun = view.basename.replace("-", " ")
            return f"List {noun}" if view.action == "list" else f"One of the {noun}, by id"
        return re.split(r"[:.;]\s", get_doc(getattr(view, view.action)), maxsplit=1)[0]

    def get_description(self) -> str:  # type: ignore[override]
        permissions = ", ".join(f"`{name}`" for name in operation_permissions(self.view, self.method))
        return f"{super().get_description()}\n\nRequired permission: {permissions}."

    def get_extensions(self) -> dict[str, Any]:
        return {**super().get_extensions(), PERMISSIONS_KEY: operation_permissions(self.view, self.method)}

    def _get_response_bodies(self, direction: str = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)  # type: ignore[arg-type]
        error = self.resolve_serializer(ErrorSerializer, "response").ref
        codes = ["401", "403"]
        if self.method != "GET" or self._is_list_view():
            codes.insert(0, "400")  # a list's filters, an action's input
        if "{id}" in self.path:
            codes.append("404")
        for code in codes:
            responses.setdefault(
                code, {"description": ERRORS[code], "content": {"application/json": {"schema": error}}}
            )
        return responses
