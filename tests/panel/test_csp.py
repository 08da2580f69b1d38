"""A Content-Security-Policy on every page, and nothing in our pages that it would refuse."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

pytestmark = pytest.mark.django_db

TEMPLATES = Path(settings.BASE_DIR) / "templates"
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.IGNORECASE)
INLINE_STYLE = re.compile(r"<style\b|\sstyle=|\son[a-z]+=", re.IGNORECASE)
CUSTOMER_PAGES = (
    "/orders/new/",
    "/orders/mass/",
    "/orders/",
    "/refills/",
    "/services/",
    "/funds/",
    "/affiliates/",
    "/api/",
    "/account/",
    "/notifications/",
    "/tickets/",
    "/tickets/new/",
)
PUBLIC_PAGES = ("/accounts/login/", "/accounts/signup/", "/accounts/password-reset/", "/admin/login/")


def _policy(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return dict(part.strip().split(" ", 1) for part in header.split(";") if part.strip())


def _assert_strict(response) -> None:
    policy = _policy(response)
    assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'", policy
    assert policy["object-src"] == "'none'" and policy["frame-ancestors"] == "'none'", policy
    html = response.content.decode()
    assert not INLINE_SCRIPT.search(html), INLINE_SCRIPT.search(html)
    assert not INLINE_STYLE.search(html), INLINE_STYLE.search(html)


def test_every_customer_page_has_a_strict_policy_and_nothing_inline(client: Client, alice, services):
    client.force_login(alice)
    for path in CUSTOMER_PAGES:
        response = client.get(path)
        assert response.status_code == 200, path
        _assert_strict(response)


def test_the_pages_before_sign_in_have_it_too(client: Client):
    for path in PUBLIC_PAGES:
        response = client.get(path)
        assert response.status_code == 200, path
        _assert_strict(response)


def test_no_template_of_ours_has_an_inline_script_style_or_handler():
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text(encoding="utf-8")
        assert not INLINE_SCRIPT.search(text), template
        assert not INLINE_STYLE.search(text), template


def test_the_admin_pages_we_build_have_nothing_inline(client: Client, services, provider):
    from tests.factories import TicketFactory, UserFactory, second_factor_confirmed

    ticket = TicketFactory.create()
    root = UserFactory.create(username="root", is_staff=True, is_superuser=True)
    client.force_login(root)
    second_factor_confirmed(client, root)
    pages = [
        "/admin/",
        "/admin/catalog/provider/",
        f"/admin/catalog/provider/{provider.pk}/change/",
        "/admin/catalog/service/",
        "/admin/orders/order/",
        "/admin/support/ticket/",
        f"/admin/support/ticket/{ticket.pk}/change/",
    ]
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        _assert_strict(response)
    chosen = [str(service.pk) for service in services.values()][:3]
    confirm = client.post("/admin/catalog/service/", {"action": "set_markup", "_selected_action": chosen})
    assert confirm.status_code == 200 and b"Set markup" in confirm.content
    _assert_strict(confirm)
