"""api.docs cannot drift from /api/v2: the same actions, every error string, and examples the real endpoint
answers in the same shape."""

from types import ModuleType

import pytest

from accounts.services import api_key_issue
from api import docs
from api.views import ACTIONS
from billing.services import InsufficientFunds
from orders import validation
from orders.services.followups import refill_request
from orders.services.forwarding import order_forward
from orders.services.placement import order_place
from orders.services.polling import poll_statuses
from upstream import messages, service_types

ID_PARAMS = ("service", "order", "orders", "refill", "refills")
LINK = "https://instagram.com/p/docs"


def _constants(module: ModuleType) -> set[str]:
    return {value for name, value in vars(module).items() if name.isupper() and isinstance(value, str)}


def _shape(value: object) -> object:
    """Keys and JSON types, recursively; a list is the shapes of its items, each once (one service stands for
    a whole catalog)."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    if isinstance(value, list):
        shapes: list[object] = []
        for item in value:
            if (shape := _shape(item)) not in shapes:
                shapes.append(shape)
        return shapes
    return type(value).__name__


def _rekeyed(value: object, ids: dict[str, str]) -> object:
    """The documented answer with the ids it is keyed by (a batch status) replaced by the real ones."""
    if isinstance(value, dict):
        return {ids.get(key, key): _rekeyed(item, ids) for key, item in value.items()}
    if isinstance(value, list):
        return [_rekeyed(item, ids) for item in value]
    return value


def test_it_documents_exactly_the_actions_the_api_serves():
    assert [action.name for action in docs.ACTIONS] == list(ACTIONS)


def test_it_documents_every_error_string_the_api_can_send():
    sent = set.union(*(_constants(module) for module in (messages, validation)))
    expected = {docs.error_text(text) for text in sent} | {InsufficientFunds().message}
    assert expected <= set(docs.all_errors())
    assert "Quantity less than minimal <min>" in docs.all_errors()


def test_it_documents_every_order_parameter_and_service_type():
    assert set(docs.order_fields()) == service_types.ORDER_PARAMS
    add = next(action for action in docs.ACTIONS if action.name == "add")
    assert {param.name for param in add.params} == {"service", "idempotency_key", *service_types.ORDER_PARAMS}
    assert [order_type.name for order_type in docs.ORDER_TYPES] == list(service_types.SUPPORTED_TYPES)
    web = next(order_type for order_type in docs.ORDER_TYPES if order_type.name == "Web Traffic")
    assert web.required == ("link", "quantity")
    assert web.optional == ("runs", "interval", *service_types.WEB_TRAFFIC_OPTIONS)


def _completed_order(alice, service) -> int:
    order = order_place(user=alice, service_id=service.pk, params={"link": LINK, "quantity": "1000"})
    order_forward(order_id=order.pk)
    return order.pk


@pytest.fixture
def world(alice, services, simulator):
    """Alice's key, and real records for every id the examples use: two completed orders that can be refilled,
    one still open, and a refill; each example uses its own, so that they do not depend on their order."""
    simulator.force_outcome = "Completed"
    completed = [_completed_order(alice, services[1]) for _ in range(3)]
    simulator.clock.advance(3600)
    poll_statuses(everything=True)
    refill = refill_request(user=alice, order_id=completed[2]).pk
    open_order = order_place(user=alice, service_id=services[1].pk, params={"link": LINK, "quantity": "100"}).pk
    ids = {
        docs.SERVICE: services[2].pk,  # drip-feed allowed, as the documented service
        docs.ORDER: completed[0],
        docs.OTHER_ORDER: completed[1],
        docs.OPEN_ORDER: open_order,
        docs.UNKNOWN_ORDER: open_order + 1000,
        docs.REFILL: refill,
        docs.UNKNOWN_REFILL: refill + 1000,
    }
    return api_key_issue(user=alice), {str(example): str(real) for example, real in ids.items()}


@pytest.mark.django_db
def test_it_answers_every_documented_example_in_the_documented_shape(client, world):
    key, ids = world
    for action in docs.ACTIONS:
        for example in action.examples:
            request = {
                name: ",".join(ids.get(token, token) for token in value.split(",")) if name in ID_PARAMS else value
                for name, value in example.request.items()
            }
            answer = client.post("/api/v2", {"key": key, **request}).json()
            assert _shape(answer) == _shape(_rekeyed(example.response, ids)), f"{request} answered {answer}"
