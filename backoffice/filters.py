"""The admin list filters that the dashboard's "needs attention" links open: each keeps exactly the rows its count
counted, with the same definition (backoffice.selectors). All use the parameter `attention`."""

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from backoffice import selectors
from orders.models import CancelRequest, Refill


class AttentionFilter(admin.SimpleListFilter):
    title = "needs attention"
    parameter_name = "attention"
    options: list[tuple[str, str]] = []

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return self.options

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() not in {value for value, _ in self.options}:
            return queryset
        return self.kept(queryset, self.value() or "")

    def kept(self, queryset: QuerySet[Any], value: str) -> QuerySet[Any]:
        raise NotImplementedError


class OrderAttentionFilter(AttentionFilter):
    options = [
        ("unknown", "Unknown, needing an operator"),
        ("held", "Held, open"),
        ("sending", "Sending for too long"),
        ("stuck", "Stuck (3 × the service's average time)"),
    ]

    def kept(self, queryset: QuerySet[Any], value: str) -> QuerySet[Any]:
        now = timezone.now()
        q = {
            "unknown": selectors.unknown_q(),
            "held": selectors.held_q(),
            "sending": selectors.sending_too_long_q(now=now),
        }.get(value) or selectors.stuck_q(now=now)
        return queryset.filter(q)


class FollowupAttentionFilter(AttentionFilter):
    """Refills and cancel requests alike."""

    options = [("open", "Open for over a day")]

    def kept(self, queryset: QuerySet[Any], value: str) -> QuerySet[Any]:
        model = Refill if queryset.model is Refill else CancelRequest
        return queryset.filter(selectors.followups_open_too_long_q(model=model, now=timezone.now()))


class ServiceAttentionFilter(AttentionFilter):
    options = [("sync", "Disabled by a sync")]

    def kept(self, queryset: QuerySet[Any], value: str) -> QuerySet[Any]:
        return queryset.filter(selectors.disabled_by_sync_q())


class ProviderAttentionFilter(AttentionFilter):
    options = [("failing", "Last call or sync failed")]

    def kept(self, queryset: QuerySet[Any], value: str) -> QuerySet[Any]:
        return queryset.filter(selectors.failing_q())


class WalletAttentionFilter(AttentionFilter):
    options = [("ledger", "Disagrees with its ledger")]

    def kept(self, queryset: QuerySet[Any], value: str) -> QuerySet[Any]:
        return queryset.filter(pk__in=selectors.ledger_mismatch_ids())
