"""The staff API's OpenAPI 3 schema: valid, complete (every endpoint, only the staff API), each operation naming
the permission it needs; generated without a single warning; and its docs page works under our strict CSP."""

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.conf import settings
from django.contrib.staticfiles import finders
from django.test import Client
from openapi_spec_validator import validate

from api.staff.urls import router
from tests.panel.test_csp import _assert_strict

pytestmark = pytest.mark.django_db

V1 = "/api/staff/v1/"
# Every operation of the staff API and the permission it needs: each the permission of the admin page or action
# that shows or does the same (backoffice/roles.py).
OPERATIONS = {
    ("get", "orders/"): "orders.view_order",
    ("get", "orders/{id}/"): "orders.view_order",
    ("post", "orders/{id}/resend/"): "orders.change_order",
    ("post", "orders/{id}/link-upstream/"): "orders.change_order",
    ("post", "orders/{id}/cancel/"): "orders.change_order",
    ("post", "orders/{id}/mark-completed/"): "orders.change_order",
    ("post", "orders/{id}/mark-partial/"): "orders.change_order",
    ("get", "manual-orders/"): "orders.view_order",
    ("get", "manual-orders/{id}/"): "orders.view_order",
    ("post", "manual-orders/{id}/progress/"): "orders.change_order",
    ("get", "refills/"): "orders.view_refill",
    ("get", "refills/{id}/"): "orders.view_refill",
    ("get", "cancels/"): "orders.view_cancelrequest",
    ("get", "cancels/{id}/"): "orders.view_cancelrequest",
    ("get", "customers/"): "accounts.view_user",
    ("get", "customers/{id}/"): "accounts.view_user",
    ("get", "wallets/"): "billing.view_wallet",
    ("get", "wallets/{id}/"): "billing.view_wallet",
    ("post", "wallets/{id}/adjust/"): "billing.change_wallet",
    ("get", "payments/"): "billing.view_payment",
    ("get", "payments/{id}/"): "billing.view_payment",
    ("get", "deposits/"): "billing.view_depositrequest",
    ("get", "deposits/{id}/"): "billing.view_depositrequest",
    ("post", "deposits/{id}/approve/"): "billing.change_depositrequest",
    ("post", "deposits/{id}/reject/"): "billing.change_depositrequest",
    ("get", "providers/"): "catalog.view_provider",
    ("get", "providers/{id}/"): "catalog.view_provider",
    ("get", "services/"): "catalog.view_service",
    ("get", "services/{id}/"): "catalog.view_service",
    ("post", "services/set-markup/"): "catalog.change_service",
}
SECRET_FIELDS = {"api_key", "credentials", "client_secret", "redirect_url", "password", "secret_hash"}


@pytest.fixture
def schema(client: Client) -> dict[str, Any]:
    response = client.get("/api/staff/schema/")
    assert response.status_code == 200
    loaded: dict[str, Any] = yaml.safe_load(response.content)
    return loaded


def _operations(schema: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method, path.removeprefix(V1)): operation
        for path, item in schema["paths"].items()
        for method, operation in item.items()
    }


def test_the_schema_is_valid_openapi_3(schema):
    assert schema["openapi"].startswith("3.")
    validate(schema)


def test_it_lists_every_endpoint_with_the_permission_it_needs(schema):
    operations = _operations(schema)
    assert {key: op["x-required-permissions"] for key, op in operations.items()} == {
        key: [permission] for key, permission in OPERATIONS.items()
    }
    for key, operation in operations.items():
        assert operation["description"].endswith(f"Required permission: `{OPERATIONS[key]}`."), key
        assert operation["security"] == [{"tokenAuth": []}], key
        assert {"401", "403"} <= set(operation["responses"]), key


def test_every_route_of_the_router_is_in_it(schema):
    """The table above is complete: nothing the router serves is missing from it."""
    paths = {path.removeprefix(V1) for path in schema["paths"]}
    for url in router.urls:
        route = re.sub(r"\(\?P<pk>\[\^/.\]\+\)", "{id}", str(url.pattern)).lstrip("^").rstrip("$")
        assert route in paths, route


def test_the_token_scheme_says_how_to_send_it(schema):
    scheme = schema["components"]["securitySchemes"]["tokenAuth"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "Authorization")
    assert scheme["description"] == 'Token-based authentication with required prefix "Token"'
    assert "`Authorization: Token <token>`" in schema["info"]["description"]
    assert "`manage.py staff_token USERNAME`" in schema["info"]["description"]


def test_the_schema_is_precise_and_names_no_secret(schema):
    for name, component in schema["components"]["schemas"].items():
        properties = component.get("properties", {})
        assert not SECRET_FIELDS & set(properties), name
        for field, spec in properties.items():
            assert "type" in spec or "$ref" in spec or "allOf" in spec or "oneOf" in spec, (name, field)


def test_manage_py_spectacular_validates_it_without_a_warning(tmp_path: Path):
    out = tmp_path / "schema.yaml"
    result = subprocess.run(
        [sys.executable, "manage.py", "spectacular", "--validate", "--fail-on-warn", "--file", str(out)],
        cwd=settings.BASE_DIR, env=os.environ.copy(), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr and "Error" not in result.stderr, result.stderr
    assert set(yaml.safe_load(out.read_text())["paths"]) == {f"{V1}{path}" for _, path in OPERATIONS}


def test_the_docs_page_has_a_strict_policy_and_nothing_inline(client: Client):
    page = client.get("/api/staff/docs/")
    assert page.status_code == 200
    _assert_strict(page)
    html = page.content.decode()
    sources = re.findall(r'<script src="([^"]+)"', html)
    assert len(sources) == 3 and sources[-1] == "/api/staff/docs/?script="
    for asset in [*sources[:2], *re.findall(r'<link rel="stylesheet" href="([^"]+)"', html)]:
        assert asset.startswith(settings.STATIC_URL) and finders.find(asset.removeprefix(settings.STATIC_URL)), asset
    script = client.get(sources[-1])
    assert script.status_code == 200 and script["Content-Type"].startswith("application/javascript")
    assert '"/api/staff/schema/"' in script.content.decode()
