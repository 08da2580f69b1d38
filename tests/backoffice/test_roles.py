"""Staff roles: a staff member of one group does that job through the admin, and cannot do the others'."""

import importlib
from decimal import Decimal
from uuid import uuid4

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from accounts.models import User
from backoffice.roles import ROLES, roles_apply
from billing.models import DepositRequest, LedgerEntry, Wallet
from billing.services import wallet_debit
from catalog.models import Service
from orders.models import Order
from tests.factories import DepositRequestFactory, OrderFactory, ServiceFactory, UserFactory, second_factor_confirmed

pytestmark = pytest.mark.django_db

ORDERS = reverse("admin:orders_order_changelist")
WALLETS = reverse("admin:billing_wallet_changelist")
DEPOSITS = reverse("admin:billing_depositrequest_changelist")
SERVICES = reverse("admin:catalog_service_changelist")


def _granted(group: Group) -> set[str]:
    return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}


def _signed_in(role: str) -> Client:
    """A client signed in (second factor confirmed) as a staff member of only this group."""
    user = UserFactory.create(username=f"{role.lower()}-staff", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    client = Client()
    client.force_login(user)
    return second_factor_confirmed(client, User.objects.get(pk=user.pk))


def _offered(client: Client, changelist: str) -> set[str]:
    response = client.get(changelist)
    assert response.status_code == 200
    form = response.context["action_form"]  # None when no action is offered
    return {name for name, _ in form.fields["action"].choices if name} if form else set()


def _act(client: Client, changelist: str, action: str, pks: list[int], **form: str) -> int:
    confirmed = {"apply": "1", "once": uuid4().hex, **form} if form else {}
    data = {"action": action, "_selected_action": [str(pk) for pk in pks], **confirmed}
    return client.post(changelist, data).status_code


@pytest.fixture
def unknown_order(alice) -> Order:
    order = OrderFactory.create(user=alice, submission=Order.Submission.UNKNOWN)
    wallet_debit(user=alice, amount=order.charge, kind=LedgerEntry.Kind.CHARGE, order=order)
    return order


@pytest.fixture
def deposit(bob) -> DepositRequest:
    return DepositRequestFactory.create(user=bob, amount=Decimal(25))


@pytest.fixture
def service() -> Service:
    return ServiceFactory.create()


def _no_order_and_no_money_moved(order: Order, deposit: DepositRequest, alice: User) -> None:
    order.refresh_from_db()
    deposit.refresh_from_db()
    assert (order.status, order.submission, order.upstream_id) == (Order.Status.PENDING, Order.Submission.UNKNOWN, None)
    assert deposit.status == DepositRequest.Status.PENDING
    assert Wallet.objects.get(user=alice).balance == Decimal("98.50000")


def test_each_group_has_exactly_the_permissions_of_its_role():
    assert {role: _granted(Group.objects.get(name=role)) for role in ROLES} == {
        role: set(names) for role, names in ROLES.items()
    }


def test_the_migrations_made_the_roles_as_defined():
    made = importlib.import_module("backoffice.migrations.0002_staff_roles").ROLES
    changes = [
        "0003_catalog_adds_manual_services",
        "0004_support_answers_tickets",
        "0005_finance_refunds_orders_and_pays_affiliates",
        "0007_finance_views_commission_reversals",
    ]
    added = [importlib.import_module(f"backoffice.migrations.{name}").ADDED for name in changes]
    assert {role: set(names).union(*(change.get(role, []) for change in added)) for role, names in made.items()} == {
        role: set(names) for role, names in ROLES.items()
    }


def test_it_puts_a_role_right_again():
    support = Group.objects.get(name="Support")
    support.permissions.clear()
    Group.objects.get(name="Catalog").delete()
    roles_apply()
    assert _granted(support) == set(ROLES["Support"])
    assert _granted(Group.objects.get(name="Catalog")) == set(ROLES["Catalog"])


def test_support_resolves_orders_and_touches_no_money_and_no_price(alice, unknown_order, deposit, service):
    client = _signed_in("Support")
    assert _offered(client, ORDERS) == {"resend", "link_upstream", "cancel_and_refund", "mark_completed",
                                        "mark_partial", "dripfeed_stop"}  # fmt: skip
    for page in [
        "admin:orders_refill_changelist",
        "admin:orders_cancelrequest_changelist",
        "admin:accounts_user_changelist",
    ]:
        assert client.get(reverse(page)).status_code == 200
    assert _offered(client, reverse("admin:accounts_user_changelist")) == set()  # customers: look only

    assert _act(client, ORDERS, "link_upstream", [unknown_order.pk], upstream_id="4242") == 302
    unknown_order.refresh_from_db()
    assert (unknown_order.submission, unknown_order.upstream_id) == (Order.Submission.SENT, 4242)

    assert _act(client, WALLETS, "adjust", [alice.wallet.pk], direction="credit", amount="50", note="x") == 403
    assert _act(client, DEPOSITS, "approve", [deposit.pk]) == 403
    assert _act(client, SERVICES, "set_markup", [service.pk], markup_percent="0") == 403
    service.refresh_from_db()
    assert service.markup_percent is None
    deposit.refresh_from_db()
    assert deposit.status == DepositRequest.Status.PENDING
    assert Wallet.objects.get(user=alice).balance == Decimal("98.50000")


def test_finance_moves_money_and_touches_no_order_and_no_price(alice, bob, unknown_order, deposit, service):
    client = _signed_in("Finance")
    assert _offered(client, DEPOSITS) == {"approve", "reject"}
    assert _offered(client, WALLETS) == {"adjust"}
    assert _offered(client, reverse("admin:billing_payment_changelist")) == {"check_now", "refund"}
    assert _offered(client, reverse("admin:billing_paymentreversal_changelist")) == {"collect", "write_off"}
    assert client.get(reverse("admin:billing_ledgerentry_changelist")).status_code == 200

    assert _act(client, DEPOSITS, "approve", [deposit.pk]) == 302
    assert Wallet.objects.get(user=bob).balance == Decimal(25)
    assert _act(client, WALLETS, "adjust", [alice.wallet.pk], direction="credit", amount="5", note="goodwill") == 302
    assert Wallet.objects.get(user=alice).balance == Decimal("103.50000")

    # Orders: look, and refund a final one later; none of Support's actions on them.
    assert _offered(client, ORDERS) == {"refund_later"}
    _act(client, ORDERS, "cancel_and_refund", [unknown_order.pk], reason="x")
    assert _act(client, SERVICES, "set_markup", [service.pk], markup_percent="0") == 403
    assert client.get(reverse("admin:billing_paymentmethod_changelist")).status_code == 403
    assert client.get(reverse("admin:accounts_user_changelist")).status_code == 403
    unknown_order.refresh_from_db()
    service.refresh_from_db()
    assert unknown_order.status == Order.Status.PENDING and service.markup_percent is None


def test_catalog_prices_services_and_touches_no_order_and_no_money(alice, unknown_order, deposit, service):
    client = _signed_in("Catalog")
    assert _offered(client, SERVICES) == {"enable", "disable", "set_markup"}
    assert _offered(client, reverse("admin:catalog_provider_changelist")) == {"test_connection", "sync_now"}
    assert client.get(reverse("admin:catalog_category_add")).status_code == 200

    assert _act(client, SERVICES, "set_markup", [service.pk], markup_percent="100") == 302
    service.refresh_from_db()
    assert (service.markup_percent, service.rate) == (Decimal(100), Decimal(2))

    assert _act(client, ORDERS, "mark_completed", [unknown_order.pk]) == 403
    assert _act(client, WALLETS, "adjust", [alice.wallet.pk], direction="credit", amount="50", note="x") == 403
    assert _act(client, DEPOSITS, "approve", [deposit.pk]) == 403
    _no_order_and_no_money_moved(unknown_order, deposit, alice)


def test_a_staff_member_without_a_role_can_do_nothing(alice, unknown_order, deposit, service):
    client = Client()
    nobody = UserFactory.create(username="newcomer", is_staff=True)
    client.force_login(nobody)
    second_factor_confirmed(client, nobody)
    for changelist in [ORDERS, WALLETS, DEPOSITS, SERVICES]:
        assert client.get(changelist).status_code == 403
    assert _act(client, ORDERS, "link_upstream", [unknown_order.pk], upstream_id="4242") == 403
    assert _act(client, SERVICES, "set_markup", [service.pk], markup_percent="0") == 403
    service.refresh_from_db()
    assert service.markup_percent is None
    _no_order_and_no_money_moved(unknown_order, deposit, alice)
