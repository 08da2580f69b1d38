"""Each staff role has exactly its admin rights in the staff API: it reads what it may view in the admin, runs
the actions its admin actions allow, and a refused call (403) changes nothing."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client

from accounts.models import User
from api.staff.permissions import granted
from api.staff.tokens import staff_token_issue
from backoffice.models import AuditEntry
from billing.models import DepositRequest, LedgerEntry, Wallet
from billing.services import wallet_debit
from catalog.models import Service
from orders.models import Order
from tests.api.staff.conftest import StaffClient, staff_member
from tests.factories import (
    CancelRequestFactory,
    DepositRequestFactory,
    OrderFactory,
    PaymentFactory,
    RefillFactory,
    ServiceFactory,
    second_factor_confirmed,
)

pytestmark = pytest.mark.django_db

# Each list, and the admin changelist that shows the same records.
LISTS = {
    "orders/": "/admin/orders/order/",
    "manual-orders/": "/admin/orders/order/",
    "refills/": "/admin/orders/refill/",
    "cancels/": "/admin/orders/cancelrequest/",
    "customers/": "/admin/accounts/user/",
    "wallets/": "/admin/billing/wallet/",
    "payments/": "/admin/billing/payment/",
    "deposits/": "/admin/billing/depositrequest/",
    "providers/": "/admin/catalog/provider/",
    "services/": "/admin/catalog/service/",
}
READS = {
    "Support": {"orders/", "manual-orders/", "refills/", "cancels/", "customers/"},
    # Finance looks at orders too: it refunds final ones later (in the admin).
    "Finance": {"wallets/", "payments/", "deposits/", "orders/", "manual-orders/"},
    "Catalog": {"providers/", "services/"},
    "superuser": set(LISTS),
}


@pytest.fixture
def records(alice, bob):
    """One of each: alice's charged order in the unknown state, bob's pending deposit, a service, and the rest."""
    order = OrderFactory.create(user=alice, submission=Order.Submission.UNKNOWN)
    wallet_debit(user=alice, amount=order.charge, kind=LedgerEntry.Kind.CHARGE, order=order)
    RefillFactory.create()
    CancelRequestFactory.create()
    PaymentFactory.create(user=bob)
    manual = OrderFactory.create(
        user=bob, service=ServiceFactory.create(provider=None, upstream_id=None), provider=None,
        upstream_service_id=None, submission=Order.Submission.MANUAL, charge=0,
    )  # fmt: skip
    return {
        "order": order,
        "manual": manual,
        "deposit": DepositRequestFactory.create(user=bob, amount=Decimal(25)),
        "service": ServiceFactory.create(),
    }


def _state(records) -> tuple[object, ...]:
    """Everything an action could change: the order, the deposit, the service's price, money, the audit trail."""
    order = Order.objects.get(pk=records["order"].pk)
    manual = Order.objects.get(pk=records["manual"].pk)
    return (
        order.status, order.submission, order.upstream_id, order.remains, manual.status, manual.start_count,
        DepositRequest.objects.get(pk=records["deposit"].pk).status,
        Service.objects.filter(pk=records["service"].pk).values_list("markup_percent", "rate").get(),
        sorted(Wallet.objects.values_list("user__username", "balance")),
        LedgerEntry.objects.count(), AuditEntry.objects.count(),
    )  # fmt: skip


def _actions(records, alice) -> dict[str, tuple[str, dict[str, object]]]:
    order, deposit, service = records["order"].pk, records["deposit"].pk, records["service"].pk
    return {
        "resend": (f"orders/{order}/resend/", {}),
        "link-upstream": (f"orders/{order}/link-upstream/", {"upstream_id": 4242}),
        "cancel": (f"orders/{order}/cancel/", {"reason": "duplicate"}),
        "mark-completed": (f"orders/{order}/mark-completed/", {}),
        "mark-partial": (f"orders/{order}/mark-partial/", {"remains": 10}),
        "approve": (f"deposits/{deposit}/approve/", {}),
        "reject": (f"deposits/{deposit}/reject/", {"note": "not received"}),
        "adjust": (f"wallets/{alice.wallet.pk}/adjust/", {"direction": "credit", "amount": "5", "note": "goodwill"}),
        "set-markup": ("services/set-markup/", {"services": [service], "markup_percent": "100"}),
        "progress": (f"manual-orders/{records['manual'].pk}/progress/", {"status": "In progress", "start_count": 5}),
    }


ACTS = {
    "Support": {"resend", "link-upstream", "cancel", "mark-completed", "mark-partial", "progress"},
    "Finance": {"approve", "reject", "adjust"},
    "Catalog": {"set-markup"},
}


@pytest.mark.parametrize("role", ["Support", "Finance", "Catalog", "superuser"])
def test_each_role_reads_exactly_what_it_views_in_the_admin(role, staff_clients, records):
    client = staff_clients[role]
    readable = {path for path in LISTS if client.get(path).status_code == 200}
    assert readable == READS[role]
    for path in set(LISTS) - readable:
        assert client.get(path).status_code == 403
    # And the record pages follow the lists.
    order = records["order"].pk
    assert client.get(f"orders/{order}/").status_code == (200 if "orders/" in readable else 403)


@pytest.mark.parametrize("role", ["Support", "Finance", "Catalog"])
def test_the_api_and_the_admin_agree_for_each_role(role):
    """The same staff member, through both doors: a list opens in the API exactly when its changelist opens."""
    member = staff_member(f"{role.lower()}-both", role=role)
    api = StaffClient(f"Token {staff_token_issue(user=member)}")
    admin = Client()
    admin.force_login(member)
    second_factor_confirmed(admin, member)
    for path, changelist in LISTS.items():
        assert (api.get(path).status_code == 200) == (admin.get(changelist).status_code == 200), (role, path)


@pytest.mark.parametrize("role", ["Support", "Finance", "Catalog"])
def test_each_role_is_refused_the_actions_of_the_others_and_nothing_changes(role, staff_clients, records, alice):
    client = staff_clients[role]
    before = _state(records)
    for name, (path, body) in _actions(records, alice).items():
        if name in ACTS[role]:
            continue
        response = client.post(path, body)
        assert response.status_code == 403, name
        assert response.json() == {"detail": "You do not have permission to perform this action."}
    assert _state(records) == before


def test_support_resolves_an_order(support, records, alice):
    actions = _actions(records, alice)
    response = support.post(*actions["link-upstream"])
    assert response.status_code == 200
    assert (response.json()["submission"], response.json()["upstream_id"]) == ("sent", 4242)
    progress = support.post(*actions["progress"])
    assert progress.status_code == 200 and progress.json()["start_count"] == 5


def test_finance_approves_and_adjusts(finance, records, alice, bob):
    actions = _actions(records, alice)
    assert finance.post(*actions["approve"]).status_code == 200
    assert finance.post(*actions["adjust"]).status_code == 200
    assert Wallet.objects.get(user=bob).balance == Decimal(25)
    assert Wallet.objects.get(user=alice).balance == Decimal("103.50000")


def test_catalog_sets_a_markup(catalog_staff, records, alice):
    response = catalog_staff.post(*_actions(records, alice)["set-markup"])
    assert response.status_code == 200
    service = Service.objects.get(pk=records["service"].pk)
    assert (service.markup_percent, service.rate) == (Decimal(100), Decimal(2))


def test_a_superuser_may_do_everything(root, records, alice):
    actions = _actions(records, alice)
    for name in ("link-upstream", "approve", "adjust", "set-markup", "progress"):
        assert root.post(*actions[name]).status_code == 200, name


def test_the_permissions_read_in_one_query_are_the_ones_django_grants(django_assert_num_queries):
    both = staff_member("both", role="Support")
    both.groups.add(Group.objects.get(name="Finance"))
    both.user_permissions.add(Permission.objects.get(codename="view_service"))
    for user in [both, staff_member("plain"), staff_member("catalog-only", role="Catalog")]:
        with django_assert_num_queries(1):
            mine = granted(user=user)
        assert mine == User.objects.get(pk=user.pk).get_all_permissions()
