"""The services page: everything on sale, grouped by category in the admin's order, at the customer's rates."""

from dataclasses import dataclass, field
from decimal import Decimal
from itertools import groupby
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.safestring import SafeString
from django.utils.translation import get_language

from accounts.models import User
from catalog.pricing import discounted_rate
from catalog.selectors import CACHE_SECONDS, catalog_version, services_for_sale


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


@dataclass
class Group:
    category_id: int
    name: str
    rows: list[dict[str, Any]] = field(default_factory=list)


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


def _render_table(filters: Filters, discount: Decimal) -> SafeString:
    rows = services_for_sale()
    categories = list(dict.fromkeys(map(_category, rows)))
    groups = []
    for (category_id, name), members in groupby(filter(filters.keep, rows), key=_category):
        rated = [
            {**row, "rate": discounted_rate(rate=row["rate"], cost=row["cost"], discount_percent=discount)}
            for row in members
        ]
        groups.append(Group(category_id=category_id, name=name, rows=rated))
    context = {
        "groups": groups,
        "categories": categories,
        "filters": filters,
        "filtered": filters != Filters(),
        "currency": settings.PANEL_CURRENCY,
    }
    return render_to_string("catalog/_services.html", context)


def _table(filters: Filters, discount: Decimal) -> SafeString:
    """The rendered list; cached per catalog version, discount, language and filter except a free-text search."""
    if filters.search:
        return _render_table(filters, discount)
    parts = (catalog_version(), discount, get_language(), filters.category, filters.refill, filters.cancel)
    key = "services-page:" + ":".join(map(str, parts))
    table: SafeString | None = cache.get(key)
    if table is None:
        table = _render_table(filters, discount)
        cache.set(key, table, CACHE_SECONDS)
    return table


@login_required
def service_list(request: HttpRequest) -> HttpResponse:
    assert isinstance(request.user, User)
    return render(request, "catalog/services.html", {"table": _table(_filters(request), request.user.discount_percent)})
