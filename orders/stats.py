"""Figures about our own orders that the catalog shows: each service's average completion time."""

from django.db import transaction
from django.db.models import Avg, F, Subquery, Window
from django.db.models.functions import RowNumber

from catalog.models import Service
from catalog.selectors import catalog_changed
from orders.models import Order
from panel.db import bulk_update_rows

RECENT_ORDERS = 10


def average_times_refresh() -> int:
    """Set each service's average time from order to completion over its last 10 completed orders.

    Returns how many services changed. Services without a completed order keep what they had.
    """
    latest_first = [F("completed_at").desc(), F("pk").desc()]
    recent = (
        Order.objects.filter(status=Order.Status.COMPLETED, completed_at__isnull=False)
        .annotate(rank=Window(RowNumber(), partition_by=F("service_id"), order_by=latest_first))
        .filter(rank__lte=RECENT_ORDERS)
        .order_by()
    )
    averages = dict(
        Order.objects.filter(pk__in=Subquery(recent.values("pk")))
        .values("service_id")
        .annotate(took=Avg(F("completed_at") - F("created_at")))
        .order_by()
        .values_list("service_id", "took")
    )
    with transaction.atomic():
        changed = []
        for service in Service.objects.filter(pk__in=averages).only("pk", "average_seconds").order_by():
            seconds = max(0, round(averages[service.pk].total_seconds()))
            if service.average_seconds != seconds:
                service.average_seconds = seconds
                changed.append(service)
        bulk_update_rows(changed, ["average_seconds"])
        if changed:
            transaction.on_commit(catalog_changed)
    return len(changed)
