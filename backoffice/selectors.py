"""Every figure of the operators' dashboard: money of the orders placed in a period, money customers brought,
what needs an operator, and how long each provider's balance lasts. A fixed number of aggregate queries, whatever
the number of rows: no query per order, provider or day."""

import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import (
    BooleanField,
    Case,
    Count,
    DateTimeField,
    DecimalField,
    DurationField,
    ExpressionWrapper,
    F,
    FilteredRelation,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, TruncDate
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise

from backoffice.models import Alert
from billing.models import LedgerEntry, Wallet
from catalog.models import Provider, Service
from orders.models import CancelRequest, Order, Refill
from panel.money import AMOUNT_DIGITS, AMOUNT_PLACES, AMOUNT_QUANTUM

MONEY: "DecimalField[Any, Decimal]" = DecimalField(max_digits=AMOUNT_DIGITS + 20, decimal_places=AMOUNT_PLACES + 20)
ZERO = Value(Decimal(0), output_field=MONEY)
TOP_SERVICES = 10
CHART_DAYS = 30
RUNWAY_DAYS = 7
FOLLOWUP_LIMIT = timedelta(days=1)
STUCK_FACTOR = 3
PERIODS = {"today": 1, "week": 7, "month": CHART_DAYS}


def _quantized(value: Decimal | None) -> Decimal:
    return (value or Decimal(0)).quantize(AMOUNT_QUANTUM)


# --- money of the orders ---------------------------------------------------------------------------------------


def _later_refunds() -> Any:
    """What operators gave back of an order once it was final (its later refunds, rare: a subquery by order)."""
    later = (
        LedgerEntry.objects.filter(order=OuterRef("pk"), kind=LedgerEntry.Kind.LATER_REFUND)
        .order_by()
        .values("order")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    return Coalesce(Subquery(later, output_field=MONEY), ZERO)


def _revenue() -> Any:
    """An order's charge less all it gave back: its own refund (at most one per order: the ledger's constraint;
    needs `refund`) and its later refunds."""
    return F("charge") - Coalesce(F("refund__amount"), ZERO) - _later_refunds()


def _cost() -> Any:
    """What the provider charged for what it delivered, in the panel currency.

    The charge it reported (in its currency, at its current exchange rate: no older rate is kept) when there is
    one; else the order's cost at order time × the delivered share: (quantity − remains) ÷ quantity for Partial,
    nothing for Canceled, all of it otherwise, so an open order counts at its full cost.
    """
    delivered = F("quantity") - Coalesce(F("remains"), Value(0))
    return Case(
        When(upstream_charge__isnull=False, then=F("upstream_charge") * F("provider__exchange_rate")),
        When(status=Order.Status.CANCELED, then=ZERO),
        When(status=Order.Status.PARTIAL, then=F("cost") * delivered / F("quantity")),
        default=F("cost"),
        output_field=MONEY,
    )


def _orders_since(since: datetime) -> QuerySet[Order]:
    refund = FilteredRelation("ledger_entries", condition=Q(ledger_entries__kind=LedgerEntry.Kind.REFUND))
    # A drip-feed's runs are free and priced on their parent: the parent alone counts.
    return Order.objects.annotate(refund=refund).filter(created_at__gte=since, parent__isnull=True).order_by()


@dataclass(frozen=True)
class Takings:
    """Money of a set of orders: revenue = charges − refunds; cost = what the providers charged for what they
    delivered; profit = revenue − cost. In the panel currency, to 5 places."""

    orders: int
    revenue: Decimal
    cost: Decimal

    @property
    def profit(self) -> Decimal:
        return self.revenue - self.cost


@dataclass(frozen=True)
class NamedTakings:
    id: int
    name: str
    takings: Takings


@dataclass(frozen=True)
class DayTakings:
    day: date
    takings: Takings


def _tz() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def day_start(*, now: datetime, days_back: int = 0) -> datetime:
    """Local midnight (settings.TIME_ZONE) `days_back` days before today's, whatever the clocks did in between."""
    today = now.astimezone(_tz()).date()
    return datetime.combine(today - timedelta(days=days_back), time(), tzinfo=_tz())


def period_starts(*, now: datetime) -> dict[str, datetime]:
    """Today is since local midnight; the week and the month are today and the 6 (29) days before it, so that the
    month is the sum of the chart's 30 days."""
    return {name: day_start(now=now, days_back=days - 1) for name, days in PERIODS.items()}


@dataclass(frozen=True)
class StatusCount:
    status: str
    label: StrOrPromise
    orders: int


@dataclass(frozen=True)
class MonthTakings:
    """The month's orders (see period_starts) by local day (today last, days without orders included), by
    provider (by revenue), for the 10 services of the highest revenue, and by their status now (every status)."""

    days: list[DayTakings]
    by_provider: list[NamedTakings]
    by_service: list[NamedTakings]
    by_status: list[StatusCount]


def _add(totals: dict[Any, list[Any]], key: Any, name: str, row: dict[str, Any]) -> None:
    total = totals.setdefault(key, [name, 0, Decimal(0), Decimal(0)])
    total[1] += row["orders"]
    total[2] += row["revenue"]
    total[3] += row["cost"]


def _named(totals: dict[Any, list[Any]], limit: int | None = None) -> list[NamedTakings]:
    rows = [
        NamedTakings(id=key, name=name, takings=Takings(orders=n, revenue=_quantized(rev), cost=_quantized(cost)))
        for key, (name, n, rev, cost) in totals.items()
    ]
    return sorted(rows, key=lambda row: (-row.takings.revenue, row.id))[:limit]


def takings_of_month(*, now: datetime) -> MonthTakings:
    """One pass over the month's orders, grouped by day, provider, service and status (at most days × services ×
    statuses rows), then added up here, exactly (Decimal), before rounding to 5 places."""
    first = day_start(now=now, days_back=CHART_DAYS - 1)
    rows = (
        _orders_since(first)
        .annotate(day=TruncDate("created_at", tzinfo=_tz()))
        .values("day", "provider_id", "provider__name", "service_id", "service__name", "status")
        .annotate(orders=Count("pk"), revenue=Sum(_revenue()), cost=Sum(_cost()))
    )
    statuses = dict.fromkeys(Order.Status.values, 0)
    by_day: dict[Any, list[Any]] = {}
    by_provider: dict[Any, list[Any]] = {}
    by_service: dict[Any, list[Any]] = {}
    for row in rows:
        _add(by_day, row["day"], "", row)
        # Orders of manual services have no provider: staff fulfil them (one row of their own, id 0).
        _add(by_provider, row["provider_id"] or 0, row["provider__name"] or gettext("Fulfilled by staff"), row)
        _add(by_service, row["service_id"], row["service__name"], row)
        statuses[row["status"]] += row["orders"]
    days: dict[Any, Takings] = {row.id: row.takings for row in _named(by_day)}
    empty = Takings(orders=0, revenue=Decimal(0), cost=Decimal(0))
    dates = [first.date() + timedelta(days=n) for n in range(CHART_DAYS)]
    return MonthTakings(
        days=[DayTakings(day=day, takings=days.get(day, empty)) for day in dates],
        by_provider=_named(by_provider),
        by_service=_named(by_service, TOP_SERVICES),
        by_status=[StatusCount(status=s.value, label=s.label, orders=statuses[s.value]) for s in Order.Status],
    )


def takings_by_period(*, days: list[DayTakings]) -> dict[str, Takings]:
    """Today, the week and the month (see period_starts), summed from the month's days: no query of their own."""
    totals = {}
    for name, count in PERIODS.items():
        part = [d.takings for d in days[-count:]]
        totals[name] = Takings(
            orders=sum(t.orders for t in part),
            revenue=sum((t.revenue for t in part), Decimal(0)),
            cost=sum((t.cost for t in part), Decimal(0)),
        )
    return totals


# --- money customers brought -------------------------------------------------------------------------------


@dataclass(frozen=True)
class MoneyIn:
    """Ledger entries of a period: deposits (money paid in), bonuses credited on top of deposits, and reversals
    (paid money a gateway took back: refunds and disputes), each a positive amount; and, apart from revenue,
    affiliate commissions net of what later refunds took back of them."""

    deposits: Decimal
    bonuses: Decimal
    reversals: Decimal
    commissions: Decimal


def money_in_by_period(*, now: datetime) -> dict[str, MoneyIn]:
    """Deposits, bonuses, reversals and commissions of today, the week and the month (see period_starts)."""
    starts = period_starts(now=now)
    Kind = LedgerEntry.Kind
    kinds = {
        "deposits": [Kind.DEPOSIT],
        "bonuses": [Kind.BONUS],
        "reversals": [Kind.REVERSAL],
        "commissions": [Kind.COMMISSION, Kind.COMMISSION_REVERSAL, Kind.DEBT_REPAYMENT],
    }
    sums = {
        f"{field}_{period}": Sum("amount", filter=Q(kind__in=names, created_at__gte=since))
        for field, names in kinds.items()
        for period, since in starts.items()
    }
    everything = [kind for names in kinds.values() for kind in names]
    row = LedgerEntry.objects.filter(created_at__gte=starts["month"], kind__in=everything).aggregate(**sums)
    return {
        period: MoneyIn(**{field: abs(_quantized(row[f"{field}_{period}"])) for field in kinds}) for period in starts
    }


@dataclass(frozen=True)
class WalletTotals:
    """What all main wallets hold (customers' money we owe them in orders) and what customers owe us; what the
    affiliate wallets hold (commissions not yet moved or paid out) and owe (commissions a later refund took back
    after they were spent)."""

    balance: Decimal
    debt: Decimal
    affiliate_balance: Decimal
    affiliate_debt: Decimal


def wallet_totals() -> WalletTotals:
    main, affiliate = Q(user__isnull=False), Q(user__isnull=True)
    row = Wallet.objects.aggregate(
        main_balance=Sum("balance", filter=main), main_debt=Sum("debt", filter=main),
        affiliate_balance=Sum("balance", filter=affiliate), affiliate_debt=Sum("debt", filter=affiliate),
    )  # fmt: skip
    return WalletTotals(
        balance=_quantized(row["main_balance"]), debt=_quantized(row["main_debt"]),
        affiliate_balance=_quantized(row["affiliate_balance"]), affiliate_debt=_quantized(row["affiliate_debt"]),
    )  # fmt: skip


# --- what needs an operator ------------------------------------------------------------------------------------
# Each definition is a Q used both for the count and by the admin list filter its link opens (backoffice.filters).


def unknown_q() -> Q:
    """Orders in the unknown state that still need an operator: open ones, and final ones placed upstream after
    they were closed here (forwarding's late answer)."""
    unknown = Q(submission=Order.Submission.UNKNOWN)
    return unknown & (~Q(status__in=Order.FINAL) | Q(submission_changed_at__gt=F("completed_at")))


def held_q() -> Q:
    """Open orders the provider refused for now (an operator who closed one has dealt with it)."""
    return Q(submission=Order.Submission.HELD) & ~Q(status__in=Order.FINAL)


def sending_too_long_q(*, now: datetime) -> Q:
    """Orders still SENDING after settings.ORDER_SENDING_LIMIT seconds: the sweeper should have moved them."""
    limit = now - timedelta(seconds=settings.ORDER_SENDING_LIMIT)
    return Q(submission=Order.Submission.SENDING, submission_changed_at__lt=limit)


def stuck_q(*, now: datetime) -> Q:
    """Open orders older than 3 × their service's average completion time (where it is known); a drip-feed the panel
    runs lasts as long as its runs (each of which counts), so it is not one of them."""
    allowed = ExpressionWrapper(
        F("service__average_seconds") * Value(timedelta(seconds=STUCK_FACTOR)), output_field=DurationField()
    )
    since = ExpressionWrapper(Value(now, output_field=DateTimeField()) - allowed, output_field=DateTimeField())
    open_ = ~Q(status__in=Order.FINAL) & ~Q(submission=Order.Submission.DRIP)
    return open_ & Q(service__average_seconds__isnull=False) & Q(created_at__lt=since)


def followups_open_too_long_q(*, model: type[Refill | CancelRequest], now: datetime) -> Q:
    """Refills not final, and cancel requests not answered, a day after they were asked."""
    open_ = ~Q(status__in=Refill.FINAL) if model is Refill else Q(status__in=CancelRequest.OPEN)
    return open_ & Q(created_at__lt=now - FOLLOWUP_LIMIT)


def disabled_by_sync_q() -> Q:
    """Services a catalog sync took off sale: vanished upstream, or no price at or above cost."""
    return ~Q(disabled_reason="") | Q(missing_upstream=True)


def failing_q() -> Q:
    """Providers whose last API call or last catalog sync failed."""
    return Q(last_call_ok=False) | Q(last_sync_ok=False)


def ledger_mismatch_ids() -> list[int]:
    """Wallets that disagreed with their ledger at the last (hourly) ledger check: those it alerted and that are
    not resolved. Reading the alerts keeps the dashboard and its list off a sum of the whole ledger."""
    keys = Alert.objects.filter(kind=Alert.Kind.LEDGER_MISMATCH, resolved_at__isnull=True).values_list("key", flat=True)
    return [int(key.rpartition(":")[2]) for key in keys if key.rpartition(":")[2].isdigit()]


@dataclass(frozen=True)
class Attention:
    """Rows that need an operator: how many, and the admin list of exactly those rows."""

    label: StrOrPromise
    count: int
    url: str


def _changelist(model: str, **params: str) -> str:
    return f"{reverse(f'admin:{model}_changelist')}?{urlencode(params)}"


def needs_attention(*, now: datetime) -> list[Attention]:
    """Orders unknown, held, sending too long or stuck; refills and cancel requests open for over a day; services
    disabled by a sync; wallets that disagree with their ledger; providers failing."""
    # Narrowed first to what an index finds (order_forward_due, order_open): never a pass over every order.
    awaiting = [Order.Submission.UNKNOWN, Order.Submission.HELD, Order.Submission.SENDING]
    orders = Order.objects.filter(submission__in=awaiting).aggregate(
        unknown=Count("pk", filter=unknown_q()),
        held=Count("pk", filter=held_q()),
        sending=Count("pk", filter=sending_too_long_q(now=now)),
    )
    stuck = Order.objects.filter(stuck_q(now=now)).count()
    refills = Refill.objects.filter(followups_open_too_long_q(model=Refill, now=now)).count()
    cancels = CancelRequest.objects.filter(followups_open_too_long_q(model=CancelRequest, now=now)).count()
    services = Service.objects.filter(disabled_by_sync_q()).count()
    providers = Provider.objects.filter(failing_q()).count()
    # The periodic ledger check (hourly) alerts each wallet that disagrees: counting its open alerts is one indexed
    # read, where checking here would sum the whole ledger on every view of the dashboard.
    mismatches = len(ledger_mismatch_ids())
    return [
        Attention(_("Orders in an unknown state"), orders["unknown"],
                  _changelist("orders_order", attention="unknown")),
        Attention(_("Orders held (the provider refused them for now)"), orders["held"],
                  _changelist("orders_order", attention="held")),
        Attention(_("Orders sending for too long"), orders["sending"],
                  _changelist("orders_order", attention="sending")),
        Attention(_("Orders stuck (open for 3 × their service's average time)"), stuck,
                  _changelist("orders_order", attention="stuck")),
        Attention(_("Refills open for over a day"), refills, _changelist("orders_refill", attention="open")),
        Attention(_("Cancel requests open for over a day"), cancels,
                  _changelist("orders_cancelrequest", attention="open")),
        Attention(_("Services disabled by a sync"), services, _changelist("catalog_service", attention="sync")),
        Attention(_("Wallets that disagreed with their ledger at the last hourly check"), mismatches,
                  _changelist("billing_wallet", attention="ledger")),
        Attention(_("Providers whose last call failed"), providers,
                  _changelist("catalog_provider", attention="failing")),
    ]  # fmt: skip


# --- providers -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProviderBalance:
    """A provider's last known balance (its currency) and how many days it lasts at the last 7 days' pace.

    spend is the cost of the orders placed with it in the last 7 × 24 hours, converted to its currency at its
    exchange rate; runway = balance ÷ (spend ÷ 7), None without spend or without a balance. low: the balance is
    below the provider's low-balance threshold.
    """

    id: int
    name: str
    balance: Decimal | None
    currency: str
    spend: Decimal
    runway_days: Decimal | None
    low: bool
    failing: bool


def provider_balances(*, now: datetime) -> list[ProviderBalance]:
    """Active providers, and inactive ones that still hold money."""
    week = Order.objects.filter(created_at__gte=now - timedelta(days=RUNWAY_DAYS)).order_by()
    # What the providers charged (the dashboard's Cost): nothing for what they refunded or never received.
    spent = dict(week.values_list("provider_id").annotate(spent=Sum(_cost())).values_list("provider_id", "spent"))
    providers = (
        Provider.objects.filter(Q(is_active=True) | Q(balance__gt=0))
        .annotate(failing=ExpressionWrapper(failing_q(), output_field=BooleanField()))
        .order_by("name")
    )
    result = []
    for p in providers:
        spend = _quantized(spent.get(p.pk, Decimal(0)) / p.exchange_rate)
        runway = None
        if p.balance is not None and spend > 0:
            runway = (p.balance / (spend / RUNWAY_DAYS)).quantize(Decimal("0.1"))
        low = p.balance is not None and p.low_balance_threshold is not None and p.balance < p.low_balance_threshold
        result.append(
            ProviderBalance(
                id=p.pk, name=p.name, balance=p.balance, currency=p.balance_currency or p.currency, spend=spend,
                runway_days=runway, low=low, failing=bool(p.failing),
            )
        )  # fmt: skip
    return result


# --- all of it -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dashboard:
    now: datetime
    days: list[DayTakings]
    periods: dict[str, Takings]
    by_provider: list[NamedTakings]
    by_service: list[NamedTakings]
    by_status: list[StatusCount]
    money_in: dict[str, MoneyIn]
    wallets: WalletTotals
    attention: list[Attention]
    providers: list[ProviderBalance]


def dashboard_figures(*, now: datetime) -> Dashboard:
    """Everything the dashboard shows, as of `now`."""
    month = takings_of_month(now=now)
    return Dashboard(
        now=now,
        days=month.days,
        periods=takings_by_period(days=month.days),
        by_provider=month.by_provider,
        by_service=month.by_service,
        by_status=month.by_status,
        money_in=money_in_by_period(now=now),
        wallets=wallet_totals(),
        attention=needs_attention(now=now),
        providers=provider_balances(now=now),
    )
