"""Figures our own orders give the catalog: each service's average completion time."""

from catalog.services.listings import services_set_average_times
from orders.selectors import completion_seconds_by_service


def average_times_refresh() -> int:
    """Set each service's average time from order to completion over its last 10 completed orders.

    Returns how many services changed. Services without a completed order keep what they had.
    """
    return services_set_average_times(seconds=completion_seconds_by_service())
