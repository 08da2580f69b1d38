"""The services page: everything on sale, grouped by category in the admin's order, at the customer's rates."""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache as memoize
from itertools import groupby
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import formats
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from accounts.http import signed_in
from accounts.models import User
from catalog.selectors import catalog_version, customer_catalog
from panel.formatting import amount, duration

# One service's row. Built with format_html (which escapes every value) rather than a template loop: at 5,000
# services the template engine took seconds per rendering, this takes a small fraction of that.
ROW = (
    '<tr data-id="{id}" data-refill="{refill}" data-cancel="{cancel}"><td class="nowrap">{id}</td>'
    '<td class="service-cell"><span id="service-{id}" data-name>{name}</span>{badges}{description}</td>'
    '<td class="num">{rate}</td><td class="num">{min}</td><td class="num">{max}</td>'
    '<td class="hide-narrow nowrap">{time}</td><td>{order}</td></tr>\n'
)
ORDER_LINK = (
    '<a class="button small" id="order-{id}" href="{url}?service={id}" aria-labelledby="order-{id} service-{id}">'
    "{text}</a>"
)
DESCRIPTION = '<details><summary>{}</summary><div class="pre small">{}</div></details>'
# A shared cache (Redis) drops a rendering at once: catalog_changed() gives the catalog a new version. This only
# bounds how stale a per-process cache (the embedded default) can be after a change made in another process.
PAGE_SECONDS = 600


@dataclass(frozen=True)
class Filters:
    search: str = ""
    category: int | None = None
    refill: bool = False
    cancel: bool = False

    def keep(self, row: dict[str, Any]) -> bool:
        """The same rules as services.js applies in the browser."""
        if self.category is not None and row["category_id"] != self.category:
            return False
        if (self.refill and not row["refill"]) or (self.cancel and not row["cancel"]):
            return False
        query = self.search.lower()
        return not query or str(row["pk"]) == query or query in row["name"].lower()


@dataclass(frozen=True)
class Group:
    category_id: int
    name: str
    rows: SafeString


def _filters(request: HttpRequest) -> Filters:
    category = request.GET.get("category", "")
    return Filters(
        search=request.GET.get("q", "").strip()[:200],
        category=int(category) if category.isascii() and category.isdigit() and len(category) < 12 else None,
        refill=request.GET.get("refill") == "1",
        cancel=request.GET.get("cancel") == "1",
    )


def _category(row: dict[str, Any]) -> tuple[int, str]:
    return row["category_id"], row["category"]


def _badges(refill: bool, cancel: bool, dripfeed: bool) -> SafeString:
    badges = [("badge ok", _("Refill"), refill), ("badge", _("Cancel"), cancel), ("badge", _("Drip-feed"), dripfeed)]
    shown = [(css, text) for css, text, on in badges if on]
    if not shown:
        return SafeString("")
    return format_html('<span class="badges">{}</span>', format_html_join("", '<span class="{}">{}</span>', shown))


def _row_renderer() -> Callable[[dict[str, Any]], SafeString]:
    """Renders rows in the active language; formatted values repeat a lot, so each is formatted once."""
    number = memoize(lambda value: formats.number_format(value, force_grouping=True))
    money, took, badges = memoize(amount), memoize(duration), memoize(_badges)
    order_url, order_text, description_text = reverse("order-new"), _("Order"), _("Description")

    def order_link(row: dict[str, Any]) -> SafeString | str:
        # A type the panel cannot take orders for yet is listed, but not offered.
        if not row["orderable"]:
            return "—"
        return format_html(ORDER_LINK, id=row["pk"], url=order_url, text=order_text)

    def row_html(row: dict[str, Any]) -> SafeString:
        description = format_html(DESCRIPTION, description_text, row["description"]) if row["description"] else ""
        return format_html(
            ROW,
            id=row["pk"],
            refill=int(row["refill"]),
            cancel=int(row["cancel"]),
            name=row["name"],
            badges=badges(row["refill"], row["cancel"], row["dripfeed"]),
            description=description,
            rate=money(row["rate"]),
            min=number(row["min"]),
            max=number(row["max"]),
            time=took(row["average_seconds"]),
            order=order_link(row),
        )

    return row_html


def _groups(rows: Iterable[dict[str, Any]]) -> list[Group]:
    row_html = _row_renderer()
    return [
        # Safe: every row comes from format_html, which escaped each value in it.
        Group(category_id=category_id, name=name, rows=SafeString("".join(map(row_html, members))))  # nosec B703
        for (category_id, name), members in groupby(rows, key=_category)
    ]


def _render_table(filters: Filters, user: User) -> SafeString:
    rows = customer_catalog(user=user)
    context = {
        "groups": _groups(filter(filters.keep, rows)),
        "categories": list(dict.fromkeys(map(_category, rows))),
        "filters": filters,
        "filtered": filters != Filters(),
        "currency": settings.PANEL_CURRENCY,
    }
    return render_to_string("catalog/_services.html", context)


def _table(filters: Filters, user: User) -> SafeString:
    """The rendered list; cached per catalog version, discount, language and filter except a free-text search."""
    if filters.search:
        return _render_table(filters, user)
    parts = (catalog_version(), user.discount_percent, get_language(), filters.category, filters.refill, filters.cancel)
    key = "services-page:" + ":".join(map(str, parts))
    table: SafeString | None = cache.get(key)
    if table is None:
        table = _render_table(filters, user)
        cache.set(key, table, PAGE_SECONDS)
    return table


@login_required
def service_list(request: HttpRequest) -> HttpResponse:
    return render(request, "catalog/services.html", {"table": _table(_filters(request), signed_in(request))})
