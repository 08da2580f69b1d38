"""The operators' dashboard: every figure of a known scenario computed by hand, in a fixed number of queries; the
needs-attention links open exactly the rows counted; staff who may not see orders see no figure."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from backoffice.selectors import Dashboard, Takings, dashboard_figures, day_start, needs_attention
from billing.affiliates.services import affiliate_account_open, referral_record
from billing.models import LedgerEntry, Payment, Wallet
from billing.payments.services import payment_credit, payment_reverse
from billing.services import refund_issue, wallet_credit, wallet_debit
from billing.tasks import check_ledger
from catalog.models import Provider, Service
from orders.models import CancelRequest, Order, Refill
from orders.services.operators import order_finish, order_refund_later
from tests.factories import (
    OrderFactory,
    PaymentFactory,
    ProviderFactory,
    ServiceFactory,
    UserFactory,
    second_factor_confirmed,
)

pytestmark = [pytest.mark.django_db, pytest.mark.ledger_mismatch_expected]

Status, Submission = Order.Status, Order.Submission
D = Decimal


@dataclass
class Scenario:
    now: datetime
    orders: dict[str, Order]
    services: dict[str, Service]
    providers: dict[str, Provider]
    refills: dict[str, Refill]
    cancels: dict[str, CancelRequest]
    eve: Wallet


def _at(obj: object, when: datetime, **more: object) -> None:
    type(obj).objects.filter(pk=obj.pk).update(created_at=when, **more)  # type: ignore[attr-defined]


def _day(now: datetime, days_back: int) -> datetime:
    """An hour after local midnight, `days_back` days ago."""
    return day_start(now=now, days_back=days_back) + timedelta(hours=1)


def _order(user, service, when, *, charge, cost, refund=None, **fields) -> Order:
    order = OrderFactory.create(user=user, service=service, charge=D(charge), cost=D(cost), **fields)
    wallet_debit(user=user, amount=order.charge, kind=LedgerEntry.Kind.CHARGE, order=order)
    if refund is not None:
        refund_issue(order=order, amount=D(refund))
    _at(order, when)
    return order


@contextmanager
def _clock(when: datetime) -> Iterator[None]:
    """Rows created meanwhile are dated `when`: ledger entries can be neither backdated nor changed afterwards."""
    with mock.patch("django.utils.timezone.now", return_value=when):
        yield


def _credited(user, *, amount: str, bonus: str = "0") -> Payment:
    payment = PaymentFactory.create(user=user, amount=D(amount), bonus=D(bonus))
    payment_credit(payment_id=payment.pk)
    return payment


@pytest.fixture
def scenario(settings) -> Scenario:
    # Local midnight is Tokyo's, 9 hours before UTC's: "today" is not the UTC date.
    settings.TIME_ZONE = "Asia/Tokyo"
    now = timezone.now()
    alpha = ProviderFactory.create(name="Alpha", balance=D(50), balance_currency="USD", low_balance_threshold=D(100),
                                   last_call_ok=True)  # fmt: skip
    beta = ProviderFactory.create(name="Beta", currency="EUR", exchange_rate=D("1.2"), balance=D(30),
                                  balance_currency="EUR", last_call_ok=False)  # fmt: skip
    gamma = ProviderFactory.create(name="Gamma", last_sync_ok=False)
    s1 = ServiceFactory.create(provider=alpha, name="Likes", average_seconds=600)
    s2 = ServiceFactory.create(provider=alpha, name="Views")
    s3 = ServiceFactory.create(provider=beta, name="Followers")
    s4 = ServiceFactory.create(provider=alpha, name="Slow", average_seconds=30 * 86400)
    s5 = ServiceFactory.create(provider=beta, name="Below cost", is_active=False,
                               disabled_reason=Service.DisabledReason.BELOW_COST)  # fmt: skip
    s6 = ServiceFactory.create(provider=beta, name="Gone", is_active=False, missing_upstream=True,
                               disabled_reason=Service.DisabledReason.MISSING_UPSTREAM)  # fmt: skip
    ServiceFactory.create(provider=beta, name="Off by hand", is_active=False)

    bob, charlie, dave, erin, eve = (UserFactory.create(username=n) for n in ("bob", "charlie", "dave", "erin", "eve"))
    wallet_credit(user=bob, amount=D(100))  # today
    with _clock(_day(now, 40)):
        wallet_credit(user=bob, amount=D(20))
        erin_pays = _credited(erin, amount="10")
    with _clock(_day(now, 3)):
        _credited(charlie, amount="50", bonus="5")
    dave_pays = _credited(dave, amount="30")

    o = {
        "o1": _order(bob, s1, day_start(now=now), charge="3", cost="2", status=Status.COMPLETED, remains=0),
        "o2": _order(bob, s2, day_start(now=now), charge="1.5", cost="1", sent=True),
        "o3": _order(bob, s1, _day(now, 2), charge="4", cost="2", refund="1", status=Status.PARTIAL, remains=250),
        "o4": _order(bob, s3, _day(now, 5), charge="2.5", cost="1.8", refund="2.5", status=Status.CANCELED),
        "o5": _order(bob, s3, _day(now, 6), charge="1.2", cost="0.9", status=Status.COMPLETED, remains=0,
                     upstream_charge=D("0.5")),
        "o6": _order(bob, s2, _day(now, 10), charge="5", cost="3", status=Status.COMPLETED, remains=0),
        "o7": _order(bob, s1, _day(now, 29), charge="2", cost="1", status=Status.COMPLETED, remains=0),
        "o8": _order(bob, s1, _day(now, 30), charge="7", cost="4", status=Status.COMPLETED, remains=0),
        "e1": _order(erin, s2, _day(now, 40), charge="4", cost="3", status=Status.COMPLETED, remains=0),
        # Needing attention, all placed before the 30 days (1.00 charged, 0.50 cost each).
        "unknown": _order(bob, s2, _day(now, 40), charge="1", cost="0.5", submission=Submission.UNKNOWN),
        "held": _order(bob, s2, _day(now, 40), charge="1", cost="0.5", submission=Submission.HELD),
        "sending": _order(bob, s2, _day(now, 40), charge="1", cost="0.5", submission=Submission.SENDING),
        "sending_now": _order(bob, s2, _day(now, 40), charge="1", cost="0.5", submission=Submission.SENDING),
        "stuck": _order(bob, s4, _day(now, 100), charge="1", cost="0.5", sent=True, status=Status.IN_PROGRESS),
        "slow": _order(bob, s4, _day(now, 40), charge="1", cost="0.5", sent=True, status=Status.IN_PROGRESS),
    }  # fmt: skip
    sending_limit = timedelta(seconds=settings.ORDER_SENDING_LIMIT)
    Order.objects.filter(pk=o["sending"].pk).update(submission_changed_at=now - sending_limit - timedelta(minutes=1))
    Order.objects.filter(pk=o["sending_now"].pk).update(submission_changed_at=now - timedelta(seconds=10))

    # Affiliates: frank, referred by charlie 40 days ago, has an old order finished today (a commission of 0.20, of
    # which a later refund of 1.00 takes back 0.05); o6 gives bob 1.00 back later too.
    olivia = UserFactory.create(username="olivia", is_staff=True, is_superuser=True)
    frank = UserFactory.create(username="frank")
    with _clock(_day(now, 40)):
        referral_record(referred=frank, code=affiliate_account_open(user=charlie).code)
        wallet_credit(user=frank, amount=D(10))
    o["f1"] = _order(frank, s2, _day(now, 40), charge="4", cost="3")
    order_finish(order_id=o["f1"].pk, status=Status.COMPLETED, actor=olivia)
    order_refund_later(order_id=o["f1"].pk, amount=D(1), actor=olivia, note="late complaint")
    order_refund_later(order_id=o["o6"].pk, amount=D(1), actor=olivia, note="dropped")

    payment_reverse(payment_id=dave_pays.pk, kind="dispute", reference="dp_1", amount=D(30))  # takes 30
    payment_reverse(payment_id=erin_pays.pk, kind="refund", reference="re_1", amount=D(10))  # takes 6, owes 4
    Wallet.objects.filter(user=eve).update(balance=D(5))  # no entry says so: a ledger mismatch
    check_ledger()  # the hourly check, which alerts it

    refills = {
        "open": Refill.objects.create(order=o["o6"]),
        "recent": Refill.objects.create(order=o["o7"]),
        "done": Refill.objects.create(order=o["o5"], status=Refill.Status.COMPLETED),
    }
    _at(refills["open"], now - timedelta(days=2))
    _at(refills["done"], now - timedelta(days=3))
    cancels = {
        "open": CancelRequest.objects.create(order=o["held"]),
        "answered": CancelRequest.objects.create(order=o["sending"], status=CancelRequest.Status.ACCEPTED),
        "recent": CancelRequest.objects.create(order=o["sending_now"]),
    }
    _at(cancels["open"], now - timedelta(days=2))
    _at(cancels["answered"], now - timedelta(days=3))
    services = {"s1": s1, "s2": s2, "s3": s3, "s4": s4, "s5": s5, "s6": s6}
    providers = {"alpha": alpha, "beta": beta, "gamma": gamma}
    return Scenario(now, o, services, providers, refills, cancels, Wallet.objects.get(user=eve))


def _money(takings: Takings) -> tuple[int, Decimal, Decimal, Decimal]:
    return takings.orders, takings.revenue, takings.cost, takings.profit


def test_it_computes_every_figure(scenario: Scenario):
    figures = dashboard_figures(now=scenario.now)

    # (orders, revenue = charges − refunds, cost, profit = revenue − cost)
    # Today: o1 (3.00, cost 2.00) + o2 (open: full cost 1.00 of 1.50).
    assert _money(figures.periods["today"]) == (2, D("4.50000"), D("3.00000"), D("1.50000"))
    # 7 days: today + o3 Partial (4.00 − 1.00 refunded = 3.00; cost 2.00 × 750/1000 = 1.50) + o4 Canceled
    # (2.50 − 2.50 = 0; cost 0) + o5 (1.20; the provider's 0.50 EUR × 1.2 = 0.60):
    # revenue 4.50 + 3.00 + 0 + 1.20 = 8.70; cost 3.00 + 1.50 + 0 + 0.60 = 5.10.
    assert _money(figures.periods["week"]) == (5, D("8.70000"), D("5.10000"), D("3.60000"))
    # 30 days: + o6 (5.00 − 1.00 refunded later = 4.00, cost 3.00) + o7 (2.00, cost 1.00, on the first of the 30
    # days); o8 is a day older, f1 ten. revenue 8.70 + 4.00 + 2.00 = 14.70; cost 5.10 + 3.00 + 1.00 = 9.10.
    assert _money(figures.periods["month"]) == (7, D("14.70000"), D("9.10000"), D("5.60000"))

    # Alpha: o1 o2 o3 o6 o7 = 3 + 1.5 + 3 + 4 + 2 = 13.50, cost 2 + 1 + 1.5 + 3 + 1 = 8.50; Beta: o4 o5.
    assert [(p.name, _money(p.takings)) for p in figures.by_provider] == [
        ("Alpha", (5, D("13.50000"), D("8.50000"), D("5.00000"))),
        ("Beta", (2, D("1.20000"), D("0.60000"), D("0.60000"))),
    ]
    # Likes: o1 o3 o7 = 3 + 3 + 2 = 8.00, cost 2 + 1.5 + 1 = 4.50; Views: o2 o6 = 5.50, cost 1 + 3 = 4.00.
    assert [(s.name, _money(s.takings)) for s in figures.by_service] == [
        ("Likes", (3, D("8.00000"), D("4.50000"), D("3.50000"))),
        ("Views", (2, D("5.50000"), D("4.00000"), D("1.50000"))),
        ("Followers", (2, D("1.20000"), D("0.60000"), D("0.60000"))),
    ]

    days = {d.day: d.takings for d in figures.days}
    assert len(figures.days) == 30
    assert figures.days[-1].day == scenario.now.astimezone(day_start(now=scenario.now).tzinfo).date()
    assert _money(days[_day(scenario.now, 2).date()]) == (1, D("3.00000"), D("1.50000"), D("1.50000"))
    assert _money(days[_day(scenario.now, 5).date()]) == (1, D("0.00000"), D("0.00000"), D("0.00000"))
    assert sum(d.takings.revenue for d in figures.days) == D("14.70000")
    assert sum(1 for d in figures.days if d.takings.orders) == 6  # today, 2, 5, 6, 10 and 29 days back

    # Of the 30 days' orders: o1 o5 o6 o7 Completed, o2 Pending, o3 Partial, o4 Canceled.
    assert {c.status: c.orders for c in figures.by_status} == {
        "Pending": 1, "In progress": 0, "Processing": 0, "Completed": 4, "Partial": 1, "Canceled": 1,
    }  # fmt: skip

    # Deposits: today bob 100 + dave 30; 3 days ago charlie 50 (and a 5 bonus); 40 days ago bob 20, erin 10.
    # Taken back today: dave's 30 and erin's 6 (the 4 more she no longer had is her debt). Commissions, apart:
    # charlie's 0.20 less 0.05, today.
    money_in = {k: (m.deposits, m.bonuses, m.reversals, m.commissions) for k, m in figures.money_in.items()}
    assert money_in == {
        "today": (D("130.00000"), D("0.00000"), D("36.00000"), D("0.15000")),
        "week": (D("180.00000"), D("5.00000"), D("36.00000"), D("0.15000")),
        "month": (D("180.00000"), D("5.00000"), D("36.00000"), D("0.15000")),
    }
    # bob: 100 + 20 − 26.20 (o1…o8) − 6.00 (six attention orders) + 3.50 refunded + 1.00 later = 92.30; charlie 55;
    # dave 0; erin 10 − 4 − 6 = 0 (owes 4); eve's broken 5; frank 10 − 4 + 1 = 7: 159.30 in all. Charlie's
    # affiliate wallet, apart: 0.15.
    wallets = figures.wallets
    assert (wallets.balance, wallets.debt) == (D("159.30000"), D("4.00000"))
    assert (wallets.affiliate_balance, wallets.affiliate_debt) == (D("0.15000"), D("0.00000"))


def test_it_gives_each_provider_its_runway(scenario: Scenario):
    providers = {p.name: p for p in dashboard_figures(now=scenario.now).providers}
    # Spend is what the provider charged (the dashboard's Cost), not what the orders were priced at.
    # Alpha, last 7 × 24 h: o1 2.00 + o2 1.00 (open: full cost) + o3 Partial 2.00 × 750/1000 = 1.50 → 4.50 USD;
    # 50 ÷ (4.50 ÷ 7) = 77.77… days, below its 100.
    alpha = providers["Alpha"]
    assert (alpha.spend, alpha.runway_days, alpha.low, alpha.failing) == (D("4.50000"), D("77.8"), True, False)
    # Beta: o4 Canceled 0 + o5 its reported 0.50 EUR (0.60 USD) → 0.50 EUR; 30 ÷ (0.50 ÷ 7) = 420 days.
    beta = providers["Beta"]
    assert (beta.spend, beta.currency, beta.runway_days, beta.low, beta.failing) == (
        D("0.50000"), "EUR", D("420.0"), False, True,
    )  # fmt: skip
    gamma = providers["Gamma"]
    assert (gamma.balance, gamma.spend, gamma.runway_days, gamma.low, gamma.failing) == (None, D(0), None, False, True)


def _listed(client: Client, url: str) -> set[int]:
    response = client.get(url)
    assert response.status_code == 200, url
    return {row.pk for row in response.context["cl"].result_list}


def test_its_links_lead_to_exactly_the_rows_counted(scenario: Scenario, admin_client: Client):
    attention = dashboard_figures(now=scenario.now).attention
    o, s, p = scenario.orders, scenario.services, scenario.providers
    expected = [
        {o["unknown"].pk},
        {o["held"].pk},
        {o["sending"].pk},
        {o["stuck"].pk},  # 100 days > 3 × 30; "slow" (40 days) is not, nor open orders of services without a time
        {scenario.refills["open"].pk},
        {scenario.cancels["open"].pk},
        {s["s5"].pk, s["s6"].pk},
        {scenario.eve.pk},
        {p["beta"].pk, p["gamma"].pk},
    ]
    assert [item.count for item in attention] == [len(rows) for rows in expected]
    assert [_listed(admin_client, item.url) for item in attention] == expected


def test_it_shows_the_figures_on_the_admin_index(scenario: Scenario, admin_client: Client):
    response = admin_client.get("/admin/")
    assert isinstance(response.context["dashboard"], Dashboard)
    html = response.content.decode()
    assert '<td data-figure="revenue-month">14.70 USD</td>' in html
    assert '<td data-figure="profit-today">1.50 USD</td>' in html
    assert '<strong data-figure="wallet-debt">4.00 USD</strong>' in html
    assert '<td data-figure="commissions-month">0.15 USD</td>' in html
    assert '<strong data-figure="affiliate-balance">0.15 USD</strong>' in html
    assert html.index('data-figure="revenue-month"') < html.index('class="app-orders module')  # the app list below


def test_it_shows_no_figure_to_staff_who_may_not_see_orders(scenario: Scenario):
    clerk = UserFactory.create(username="clerk", is_staff=True)
    client = Client()
    client.force_login(clerk)
    response = second_factor_confirmed(client, clerk).get("/admin/")
    assert response.status_code == 200
    assert "dashboard" not in response.context
    assert "data-figure" not in response.content.decode()


def test_it_shows_the_figures_to_staff_who_may_see_orders(scenario: Scenario):
    from django.contrib.auth.models import Permission

    viewer = UserFactory.create(username="viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_order"))
    client = Client()
    client.force_login(viewer)
    response = second_factor_confirmed(client, viewer).get("/admin/")
    assert '<td data-figure="revenue-month">14.70 USD</td>' in response.content.decode()


def _orders(count: int) -> None:
    """`count` orders over several providers, services, statuses and days (no money moves: none is needed)."""
    user = UserFactory.create()
    providers = [ProviderFactory.create() for _ in range(3)]
    services = [ServiceFactory.create(provider=providers[n % 3], average_seconds=60 * n or None) for n in range(6)]
    now = timezone.now()
    statuses = list(Status)
    Order.objects.bulk_create(
        Order(user=user, service=services[n % 6], provider=services[n % 6].provider, upstream_service_id=1,
              quantity=1000, remains=n % 1000, rate=D(1), charge=D("1.5"), cost=D(1), status=statuses[n % 6],
              upstream_charge=D("0.9") if n % 7 == 0 else None)
        for n in range(count)
    )  # fmt: skip
    for n, pk in enumerate(Order.objects.filter(user=user).values_list("pk", flat=True)):
        Order.objects.filter(pk=pk).update(created_at=now - timedelta(days=n % 40, hours=n % 24))


def _queries(client: Client) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as figures:
        dashboard_figures(now=timezone.now())
    with CaptureQueriesContext(connection) as page:
        assert client.get("/admin/").status_code == 200
    return len(figures), len(page)


def test_it_takes_as_many_queries_for_300_orders_as_for_3(admin_client: Client):
    _orders(3)
    few = _queries(admin_client)
    _orders(297)
    assert Order.objects.count() == 300
    assert _queries(admin_client) == few
    assert few[0] <= 12  # one aggregate per figure group (backoffice.selectors)


def test_an_unknown_or_held_order_an_operator_closed_needs_nobody(alice, services, admin_client):

    now = timezone.now()
    service = services[1]
    open_unknown = OrderFactory.create(user=alice, service=service, submission=Submission.UNKNOWN)
    OrderFactory.create(user=alice, service=service, submission=Submission.UNKNOWN, status=Status.CANCELED,
                        completed_at=now)  # fmt: skip
    OrderFactory.create(user=alice, service=service, submission=Submission.HELD, status=Status.CANCELED,
                        completed_at=now)  # fmt: skip
    # Closed after they went UNKNOWN or HELD, as an operator does.
    Order.objects.exclude(pk=open_unknown.pk).update(submission_changed_at=now - timedelta(hours=1))
    counts = {item.url.rpartition("=")[2]: item.count for item in needs_attention(now=now + timedelta(seconds=1))}
    assert (counts["unknown"], counts["held"]) == (1, 0)
    assert _listed(admin_client, reverse("admin:orders_order_changelist") + "?attention=unknown") == {open_unknown.pk}
