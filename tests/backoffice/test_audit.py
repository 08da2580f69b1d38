"""The audit trail: each staff action records one entry (who, what, on which record, before and after), customers'
and the panel's own work records none, and nobody edits the trail in the admin."""

from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import User
from backoffice.models import AuditEntry
from billing.models import LedgerEntry, Payment, Wallet
from billing.payments.services import debt_collect, debt_write_off, payment_credit, payment_reverse
from billing.services import deposit_approve, deposit_reject, wallet_credit, wallet_debit
from catalog.models import Category, Provider, Service
from catalog.services.listings import category_save, service_save, services_set_markup
from catalog.services.providers import provider_create, provider_update
from catalog.services.sync import catalog_sync
from orders.models import Order
from orders.services.operators import order_finish, order_link_upstream, order_resend
from orders.services.placement import order_place
from tests.conftest import SIMULATOR_KEY
from tests.factories import AuditEntryFactory, DepositRequestFactory, OrderFactory, PaymentFactory, ServiceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(db) -> User:
    return User.objects.create_user(username="olivia", is_staff=True)


def _entry() -> AuditEntry:
    (entry,) = AuditEntry.objects.all()
    return entry


def _shape(entry: AuditEntry) -> tuple[object, ...]:
    return entry.actor, entry.action, entry.target_type, entry.target_id, entry.before, entry.after


def _charged(user: User, **fields: object) -> Order:
    order = OrderFactory.create(user=user, **fields)
    wallet_debit(user=user, amount=order.charge, kind=LedgerEntry.Kind.CHARGE, order=order)
    return order


def test_a_wallet_adjustment_records_the_balance_before_and_after(staff, alice):
    credit = wallet_credit(user=alice, amount=Decimal(5), kind="adjustment", actor=staff, note="goodwill")
    wallet = Wallet.objects.get(user=alice)
    assert _shape(_entry()) == (staff, "wallet.credit", "billing.wallet", str(wallet.pk),
                                {"balance": "100.00000"}, {"balance": "105.00000", "entry": credit.pk})  # fmt: skip
    assert _entry().note == "goodwill"
    AuditEntry.objects.all().delete()
    wallet_debit(user=alice, amount=Decimal(10), kind="adjustment", actor=staff, note="chargeback fee")
    assert (_entry().action, _entry().before, _entry().after["balance"]) == (
        "wallet.debit", {"balance": "105.00000"}, "95.00000",
    )  # fmt: skip


def test_deciding_a_deposit_records_it(staff, bob):
    approved, rejected = DepositRequestFactory.create(user=bob), DepositRequestFactory.create(user=bob)
    deposit_approve(deposit_id=approved.pk, actor=staff)
    approved.refresh_from_db()
    assert _shape(_entry()) == (staff, "deposit.approve", "billing.depositrequest", str(approved.pk),
                                {"status": "pending"},
                                {"status": "approved", "amount": "25.00000", "entry": approved.entry_id})  # fmt: skip
    AuditEntry.objects.all().delete()
    deposit_reject(deposit_id=rejected.pk, actor=staff, note="never arrived")
    assert _shape(_entry())[1:] == ("deposit.reject", "billing.depositrequest", str(rejected.pk),
                                    {"status": "pending"}, {"status": "rejected"})  # fmt: skip
    assert _entry().note == "never arrived"
    assert not deposit_reject(deposit_id=rejected.pk, actor=staff, note="again")
    assert AuditEntry.objects.count() == 1


def test_a_staff_refund_and_settling_the_debt_are_recorded(staff):
    payment = PaymentFactory.create(amount=Decimal(50))
    payment_credit(payment_id=payment.pk)
    wallet_debit(user=payment.user, amount=Decimal(40), kind="adjustment", actor=staff, note="spent")
    AuditEntry.objects.all().delete()
    reversal = payment_reverse(payment_id=payment.pk, kind="refund", reference="re_1", amount=Decimal(50), actor=staff)
    assert reversal is not None
    assert _shape(_entry()) == (staff, "payment.refund", "billing.payment", str(payment.pk),
                                {"state": "succeeded", "reversed_amount": "0.00000", "balance": "10.00000",
                                 "debt": "0.00000"},
                                {"state": "refunded", "reversed_amount": "50.00000", "balance": "0.00000",
                                 "debt": "40.00000", "reversal": reversal.pk, "amount": "50"})  # fmt: skip
    AuditEntry.objects.all().delete()
    wallet_credit(user=payment.user, amount=Decimal(15))
    assert debt_collect(user=payment.user, actor=staff) == Decimal(15)
    wallet = Wallet.objects.get(user=payment.user)
    assert _shape(_entry()) == (staff, "debt.collect", "billing.wallet", str(wallet.pk),
                                {"balance": "15.00000", "debt": "40.00000"},
                                {"balance": "0.00000", "debt": "25.00000"})  # fmt: skip
    AuditEntry.objects.all().delete()
    debt_write_off(user=payment.user, actor=staff, note="paid by bank transfer")
    assert (_entry().action, _entry().before, _entry().after, _entry().note) == (
        "debt.write_off", {"debt": "25.00000"}, {"debt": "0.00000"}, "paid by bank transfer",
    )  # fmt: skip


def test_a_gateways_own_refund_records_nothing():
    payment = PaymentFactory.create()
    payment_credit(payment_id=payment.pk)
    payment_reverse(payment_id=payment.pk, kind="dispute", reference="dp_1", amount=Decimal(25))
    assert Payment.objects.get(pk=payment.pk).state == "disputed"
    assert not AuditEntry.objects.exists()


def test_resolving_an_order_records_it(staff, alice):
    held = _charged(alice, submission=Order.Submission.HELD)
    assert order_resend(order_id=held.pk, actor=staff)
    assert _shape(_entry()) == (staff, "order.resend", "orders.order", str(held.pk), {"submission": "held"},
                                {"submission": "queued"})  # fmt: skip
    AuditEntry.objects.all().delete()

    unknown = _charged(alice, submission=Order.Submission.UNKNOWN)
    order_link_upstream(order_id=unknown.pk, upstream_id=4242, actor=staff)
    assert _shape(_entry())[1:] == ("order.link_upstream", "orders.order", str(unknown.pk),
                                    {"submission": "unknown", "upstream_id": None},
                                    {"submission": "sent", "upstream_id": 4242})  # fmt: skip
    AuditEntry.objects.all().delete()

    canceled = _charged(alice, submission=Order.Submission.UNKNOWN)
    order_finish(order_id=canceled.pk, status="Canceled", actor=staff, reason="duplicate")
    assert _shape(_entry())[1:] == ("order.finish", "orders.order", str(canceled.pk),
                                    {"status": "Pending", "remains": None},
                                    {"status": "Canceled", "remains": 1000, "refund": "1.50000"})  # fmt: skip
    AuditEntry.objects.all().delete()

    partial = _charged(alice, sent=True)
    order_finish(order_id=partial.pk, status="Partial", remains=400, actor=staff)
    assert _entry().after == {"status": "Partial", "remains": 400, "refund": "0.60000"}
    assert not order_resend(order_id=partial.pk, actor=staff)
    assert AuditEntry.objects.count() == 1


def test_a_price_change_records_the_markup_and_the_rate(staff):
    service = ServiceFactory.create()
    service.markup_percent = Decimal(100)
    service_save(service=service, fields=["markup_percent"], actor=staff)
    assert _shape(_entry()) == (staff, "service.price", "catalog.service", str(service.pk),
                                {"markup_percent": None, "rate": "1.500000"},
                                {"markup_percent": "100", "rate": "2.000000"})  # fmt: skip
    AuditEntry.objects.all().delete()
    service.name = "Renamed"
    service_save(service=service, fields=["name"], actor=staff)
    assert not AuditEntry.objects.exists()  # not a price


def test_the_set_markup_action_records_each_service_it_repriced(staff):
    first = ServiceFactory.create()
    second = ServiceFactory.create(markup_percent=Decimal(20), rate=Decimal("1.2"))
    services_set_markup(services=Service.objects.filter(pk__in=[first.pk, second.pk]), markup_percent=Decimal(20),
                        actor=staff)  # fmt: skip
    # The second had that markup already: nothing changed on it.
    assert _shape(_entry()) == (staff, "service.price", "catalog.service", str(first.pk),
                                {"markup_percent": None, "rate": "1.500000"},
                                {"markup_percent": "20.00", "rate": "1.200000"})  # fmt: skip


def test_a_category_markup_is_recorded(staff):
    service = ServiceFactory.create()
    category = Category.objects.get(pk=service.category_id)
    category.markup_percent = Decimal(10)
    category_save(category=category, fields=["markup_percent"], actor=staff)
    assert _shape(_entry()) == (staff, "category.markup", "catalog.category", str(category.pk),
                                {"markup_percent": None}, {"markup_percent": "10"})  # fmt: skip


def test_a_provider_is_recorded_with_its_key_masked(staff, simulator):
    provider = provider_create(name="Main", api_url=simulator.url, api_key=SIMULATOR_KEY, actor=staff)
    entry = _entry()
    assert (entry.actor, entry.action, entry.target_id, entry.before) == (
        staff,
        "provider.create",
        str(provider.pk),
        {},
    )
    assert entry.after["api_key"] == provider.masked_key and entry.after["exchange_rate"] == "1"
    AuditEntry.objects.all().delete()
    provider.exchange_rate = Decimal("1.5")
    provider_update(provider=provider, fields=["exchange_rate"], actor=staff)
    assert _shape(_entry())[1:] == ("provider.change", "catalog.provider", str(provider.pk),
                                    {"exchange_rate": "1.00000000"}, {"exchange_rate": "1.5"})  # fmt: skip
    AuditEntry.objects.all().delete()
    provider.api_key = SIMULATOR_KEY[:4] + "x" * (len(SIMULATOR_KEY) - 6) + SIMULATOR_KEY[-2:]
    simulator.key = provider.api_key
    provider_update(provider=provider, fields=["api_key"], actor=staff)
    text = str([_entry().before, _entry().after])
    assert "api_key" in _entry().after and SIMULATOR_KEY not in text and provider.api_key not in text


def test_customers_and_the_panel_itself_record_nothing(alice, services, provider):
    order_place(user=alice, service_id=services[1].pk, params={"link": "https://x.test/a", "quantity": "1000"})
    wallet_credit(user=alice, amount=Decimal(5))
    Provider.objects.filter(pk=provider.pk).update(exchange_rate=Decimal(2))
    catalog_sync(provider=provider)
    assert not AuditEntry.objects.exists()


def test_the_admin_lists_and_filters_the_trail_and_never_edits_it(admin_client, admin_user):
    mine = AuditEntryFactory.create(actor=admin_user, action="order.resend", target_repr="Order 17")
    other = AuditEntryFactory.create()
    changelist = reverse("admin:backoffice_auditentry_changelist")
    assert list(admin_client.get(changelist, {"action": "order.resend"}).context["cl"].result_list) == [mine]
    assert list(admin_client.get(changelist, {"actor__id__exact": other.actor_id}).context["cl"].result_list) == [other]
    assert list(admin_client.get(changelist, {"q": "Order 17"}).context["cl"].result_list) == [mine]
    page = admin_client.get(reverse("admin:backoffice_auditentry_change", args=[mine.pk])).content.decode()
    assert "100.00" in page and "markup_percent" in page
    assert admin_client.get(reverse("admin:backoffice_auditentry_add")).status_code == 403
    assert (
        admin_client.post(reverse("admin:backoffice_auditentry_change", args=[mine.pk]), {"note": "x"}).status_code
        == 403
    )
    assert (
        admin_client.post(reverse("admin:backoffice_auditentry_delete", args=[mine.pk]), {"post": "yes"}).status_code
        == 403
    )
    mine.refresh_from_db()
    assert mine.note == "" and AuditEntry.objects.count() == 2


def test_a_deposit_credited_at_the_servers_shell_is_recorded(bob):
    from io import StringIO

    from django.core.management import call_command

    call_command("credit", "bob", "40", "--note", "wire 2026-12-01", stdout=StringIO())
    entry = AuditEntry.objects.get(action="wallet.deposit")
    assert (entry.actor, entry.target_id, entry.note) == (None, str(Wallet.objects.get(user=bob).pk), "wire 2026-12-01")
    assert (entry.before, entry.after) == ({"balance": "0.00000"}, {"balance": "40.00000"})
