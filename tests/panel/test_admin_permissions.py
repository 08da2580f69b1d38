"""Every admin action declares the permissions it needs: staff who may only view get none of them."""

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.db.models import QuerySet
from django.http import HttpRequest
from django.test import Client, RequestFactory
from django.urls import reverse

from accounts.models import User
from backoffice.models import Alert
from billing.models import DepositRequest
from billing.services import wallet_credit, wallet_debit
from catalog.models import Service
from orders.services.operators import order_finish
from tests.factories import (
    AccessAttemptFactory,
    AuditEntryFactory,
    CancelRequestFactory,
    DepositRequestFactory,
    OrderFactory,
    PaymentReversalFactory,
    ReferralFactory,
    RefillFactory,
    UserFactory,
    second_factor_confirmed,
)

pytestmark = pytest.mark.django_db

# What each action's confirmation form asks for, all at once: a refused action must not get past its form.
ACTION_FORM = {
    "apply": "1",
    "once": "0123456789abcdef0123456789abcdef",
    "markup_percent": "0",
    "upstream_id": "777",
    "reason": "staff test",
    "remains": "1",
    "direction": "credit",
    "amount": "50",
    "note": "staff test",
}


def _actions(model_admin: admin.ModelAdmin[Any]) -> list[tuple[str, Callable[..., object]]]:
    """The admin's own actions; Django's delete_selected checks the delete permission itself."""
    site_wide = [func for _, func in model_admin.admin_site.actions]
    resolved = [model_admin.get_action(action) for action in [*site_wide, *(model_admin.actions or [])]]
    return [(name, func) for func, name, _ in filter(None, resolved) if name != "delete_selected"]


def _undeclared(model_admin: admin.ModelAdmin[Any]) -> list[str]:
    return [name for name, func in _actions(model_admin) if not getattr(func, "allowed_permissions", ())]


def _every_action() -> list[tuple[admin.ModelAdmin[Any], str]]:
    return [(ma, name) for ma in admin.site._registry.values() for name, _ in _actions(ma)]


def _snapshot() -> dict[str, list[dict[str, object]]]:
    return {model._meta.label: list(model._default_manager.order_by("pk").values()) for model in admin.site._registry}


@pytest.fixture
def viewer(charlie) -> User:
    """Staff who may view every model in the admin, and do nothing else."""
    charlie.is_staff = True
    charlie.save(update_fields=["is_staff"])
    codenames = [f"view_{model._meta.model_name}" for model in admin.site._registry]
    charlie.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    assert charlie.user_permissions.count() == len(admin.site._registry)
    return User.objects.get(pk=charlie.pk)


@pytest.fixture
def rows(services, alice, bob) -> None:
    """A row of every model that an action would change: a service of each state, orders, money, a request."""
    listed = list(services.values())
    Service.objects.filter(pk=listed[0].pk).update(is_active=False)
    order = OrderFactory.create(user=alice, service=listed[1], sent=True)
    wallet_debit(user=alice, amount=order.charge, kind="charge", order=order)
    OrderFactory.create(user=bob, service=listed[1], submission="unknown")
    RefillFactory.create()
    CancelRequestFactory.create()
    DepositRequestFactory.create(user=bob, amount=Decimal(25))
    AccessAttemptFactory.create()
    PaymentReversalFactory.create(payment__user=bob)  # a credited payment, refunded
    Alert.objects.create(kind=Alert.Kind.LEDGER_MISMATCH, key="ledger-mismatch:0", subject="an open alert")
    AuditEntryFactory.create()
    # A referred customer's completed order: 50.00 of commission that a payout could take, a charge a later refund
    # could give back.
    dave = UserFactory.create(username="dave")
    ReferralFactory.create(referrer=alice, referred=dave)
    wallet_credit(user=dave, amount=Decimal(1000))
    earning = OrderFactory.create(user=dave, service=listed[1], charge=Decimal(1000))
    wallet_debit(user=dave, amount=earning.charge, kind="charge", order=earning)
    order_finish(order_id=earning.pk, status="Completed", actor=UserFactory.create(username="olivia", is_staff=True))


def test_every_admin_action_declares_its_permissions():
    assert _every_action(), "no admin action found: the registry was not loaded"
    undeclared = {type(ma).__name__: _undeclared(ma) for ma in admin.site._registry.values() if _undeclared(ma)}
    assert undeclared == {}


class CarelessAdmin(admin.ModelAdmin[DepositRequest]):
    actions = ["careful", "careless"]

    @admin.action(description="Careful", permissions=["change"])
    def careful(self, request: HttpRequest, queryset: QuerySet[DepositRequest]) -> None: ...

    @admin.action(description="Careless")
    def careless(self, request: HttpRequest, queryset: QuerySet[DepositRequest]) -> None: ...


def test_it_notices_an_action_that_declares_no_permissions():
    assert _undeclared(CarelessAdmin(DepositRequest, admin.AdminSite())) == ["careless"]


def test_no_action_is_offered_to_staff_who_may_only_view(viewer):
    request = RequestFactory().get("/admin/")
    request.user = viewer
    offered = {f"{type(ma).__name__}.{name}": name in ma.get_actions(request) for ma, name in _every_action()}
    assert offered and not any(offered.values()), offered


def test_posting_any_action_as_staff_who_may_only_view_changes_nothing(client, viewer, rows):
    client.force_login(viewer)
    second_factor_confirmed(client, viewer)  # so that the admin itself, not the sign-in gate, answers
    before = _snapshot()
    for model_admin, name in _every_action():
        opts = model_admin.model._meta
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        selected = [str(pk) for pk in model_admin.model._default_manager.values_list("pk", flat=True)]
        assert selected, f"no {opts.label} row for {name} to act on"
        response = client.post(url, {"action": name, "_selected_action": selected, **ACTION_FORM})
        assert response.status_code in (200, 302, 403), (name, response.status_code)
        assert "two-factor" not in response.get("Location", ""), name
        assert _snapshot() == before, f"{type(model_admin).__name__}.{name} changed rows for a viewer"


def test_staff_who_may_only_view_cannot_set_a_markup_to_zero(viewer, services):
    service = next(iter(services.values()))
    rate = service.rate
    client = Client()
    client.force_login(viewer)
    second_factor_confirmed(client, viewer)
    selection = {"action": "set_markup", "_selected_action": [str(service.pk)]}
    client.post(reverse("admin:catalog_service_changelist"), {**selection, "apply": "1", "markup_percent": "0"})
    service.refresh_from_db()
    assert (service.markup_percent, service.rate) == (None, rate)
