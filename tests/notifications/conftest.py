from collections.abc import Callable, Iterator

import pytest
from celery.signals import task_prerun

from orders.models import Order
from orders.services.forwarding import order_forward
from orders.services.placement import order_place


def sent(user, service, *, count: int = 1, origin: str = Order.Origin.WEB, quantity: str = "1000") -> list[Order]:
    """Orders the customer placed (on the web, or through the API) and that went upstream."""
    orders = []
    for n in range(count):
        params = {"link": f"https://instagram.com/p/{origin}{n}", "quantity": quantity}
        order = order_place(user=user, service_id=service.pk, params=params, origin=origin)
        assert order_forward(order_id=order.pk) == "sent"
        orders.append(Order.objects.get(pk=order.pk))
    return orders


@pytest.fixture
def tasks_run() -> Iterator[list[tuple[str, tuple[object, ...]]]]:
    """The Celery tasks that ran (with the `eager` fixture, where they were enqueued): name and arguments."""
    ran: list[tuple[str, tuple[object, ...]]] = []

    def record(sender: object = None, args: tuple[object, ...] = (), **kwargs: object) -> None:
        ran.append((getattr(sender, "name", ""), tuple(args)))

    receiver: Callable[..., None] = record
    task_prerun.connect(receiver, weak=False)
    yield ran
    task_prerun.disconnect(receiver)
