"""The dashboard's charts as shapes for server-rendered SVG: no script, no inline style (the CSP allows neither)."""

from dataclasses import dataclass
from decimal import Decimal

from django.utils.translation import gettext as _

from backoffice.selectors import DayTakings, StatusCount
from panel.formatting import money

WIDTH = 600
HEIGHT = 160
SLOT = WIDTH // 30
BAR = (SLOT - 4) // 2
LABEL_WIDTH = 110
STATUS_BAR = 22
# Drawn at about the size it is shown in a half-width card, so that its labels stay legible.
STATUS_WIDTH = 420


@dataclass(frozen=True)
class Bar:
    x: int
    y: int
    width: int
    height: int
    title: str


@dataclass(frozen=True)
class DayChart:
    """Revenue and profit bars of each day around a zero line (a loss goes below it)."""

    revenue: list[Bar]
    profit: list[Bar]
    zero_y: int
    labels: list[tuple[int, str]]
    width: int = WIDTH
    height: int = HEIGHT


@dataclass(frozen=True)
class StatusChart:
    bars: list[tuple[Bar, str, int]]
    width: int
    height: int


def _scaled(value: Decimal, top: Decimal, span: int) -> int:
    return round(abs(value) / top * span) if top else 0


def day_chart(days: list[DayTakings]) -> DayChart:
    high = max([Decimal(0), *(d.takings.revenue for d in days), *(d.takings.profit for d in days)])
    low = min([Decimal(0), *(d.takings.profit for d in days), *(d.takings.revenue for d in days)])
    span = high - low
    zero_y = round(high / span * HEIGHT) if span else HEIGHT

    def bar(n: int, offset: int, value: Decimal, what: str, day: DayTakings) -> Bar:
        size = _scaled(value, span, HEIGHT)
        title = f"{day.day:%Y-%m-%d} {what}: {money(value)}"
        return Bar(x=n * SLOT + 2 + offset, y=zero_y - size if value >= 0 else zero_y, width=BAR, height=size,
                   title=title)  # fmt: skip

    revenue = [bar(n, 0, d.takings.revenue, _("Revenue"), d) for n, d in enumerate(days)]
    profit = [bar(n, BAR, d.takings.profit, _("Profit"), d) for n, d in enumerate(days)]
    labels = [(n * SLOT + SLOT // 2, f"{d.day:%m-%d}") for n, d in enumerate(days) if n % 5 == 4 or n == 0]
    return DayChart(revenue=revenue, profit=profit, zero_y=zero_y, labels=labels)


def status_chart(counts: list[StatusCount]) -> StatusChart:
    top = max([0, *(c.orders for c in counts)])
    span = STATUS_WIDTH - LABEL_WIDTH - 40
    bars = [
        (
            Bar(x=LABEL_WIDTH, y=n * STATUS_BAR + 3, width=round(c.orders / top * span) if top else 0,
                height=STATUS_BAR - 6, title=f"{c.label}: {c.orders}"),
            str(c.label),
            c.orders,
        )
        for n, c in enumerate(counts)
    ]  # fmt: skip
    return StatusChart(bars=bars, width=STATUS_WIDTH, height=len(counts) * STATUS_BAR)
