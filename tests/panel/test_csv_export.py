"""CSV exports of orders, payments and ledger entries: exactly the rows the changelist shows with its filters and
search, for staff who may view them, with spreadsheet formulas neutralized."""

import csv
import io
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from billing.models import LedgerEntry
from billing.services import wallet_credit, wallet_debit
from orders.models import Order
from tests.factories import OrderFactory, PaymentFactory, UserFactory, second_factor_confirmed

pytestmark = pytest.mark.django_db

ORDER_HEADER = ["id", "created", "customer", "service id", "service", "provider", "status", "submission", "link",
                "quantity", "remains", "charge", "cost", "upstream id", "completed"]  # fmt: skip


def _rows(response) -> list[list[str]]:
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_it_exports_the_orders_as_filtered(admin_client, alice, bob):
    wallet_credit(user=bob, amount=Decimal(10))
    OrderFactory.create(user=alice)
    bobs = [OrderFactory.create(user=bob, status=Order.Status.IN_PROGRESS), OrderFactory.create(user=bob)]
    url = reverse("admin:orders_order_export_csv")
    header, *rows = _rows(admin_client.get(url, {"user__id__exact": bob.pk, "o": "1"}))
    assert header == ORDER_HEADER
    assert [row[0] for row in rows] == [str(o.pk) for o in bobs]
    assert rows[0][2] == "bob" and rows[0][6] == "In progress" and rows[0][11] == "1.50000"
    (only,) = _rows(admin_client.get(url, {"q": bobs[1].link}))[1:]
    assert only[0] == str(bobs[1].pk)


def test_the_changelist_links_to_the_export_of_what_it_shows(admin_client, bob):
    page = admin_client.get(reverse("admin:orders_order_changelist"), {"status__exact": "Pending", "q": "x"})
    assert f"{reverse('admin:orders_order_export_csv')}?q=x&amp;status__exact=Pending" in page.content.decode()


def test_it_neutralizes_a_link_that_a_spreadsheet_would_run(admin_client, alice):
    OrderFactory.create(user=alice, link='=HYPERLINK("https://evil.test","click")')
    OrderFactory.create(user=alice, link="@SUM(1+1)")
    rows = _rows(admin_client.get(reverse("admin:orders_order_export_csv"), {"o": "1"}))[1:]
    assert [row[8] for row in rows] == ['\'=HYPERLINK("https://evil.test","click")', "'@SUM(1+1)"]


def test_it_exports_the_ledger_and_payments_as_filtered(admin_client, alice):
    wallet_debit(user=alice, amount=Decimal(3), kind="adjustment", note="-fee")
    header, *rows = _rows(
        admin_client.get(reverse("admin:billing_ledgerentry_export_csv"), {"kind__exact": "adjustment"})
    )
    assert header == [
        "id",
        "created",
        "customer",
        "kind",
        "amount",
        "balance after",
        "order",
        "payment",
        "actor",
        "note",
    ]
    assert [(row[2], row[3], row[4], row[5], row[9]) for row in rows] == [
        ("alice", "adjustment", "-3.00000", "97.00000", "'-fee")
    ]  # a negative amount stays a number; text that starts like a formula does not
    assert LedgerEntry.objects.count() == 2
    PaymentFactory.create(user=alice, state="failed")
    pending = PaymentFactory.create(user=alice)
    rows = _rows(admin_client.get(reverse("admin:billing_payment_export_csv"), {"state__exact": "pending"}))
    assert rows[0][:4] == ["id", "created", "customer", "method"]
    assert [row[0] for row in rows[1:]] == [str(pending.pk)]  # not the failed one


def test_staff_who_may_not_view_a_list_cannot_export_it(alice):
    staff = UserFactory.create(username="olivia", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_payment"))
    client = Client()
    client.force_login(staff)
    second_factor_confirmed(client, staff)
    assert client.get(reverse("admin:billing_payment_export_csv")).status_code == 200
    assert client.get(reverse("admin:billing_ledgerentry_export_csv")).status_code == 403
    assert client.get(reverse("admin:orders_order_export_csv")).status_code == 403
