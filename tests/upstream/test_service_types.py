"""The one table of service types: what `add` takes for each, and how orders of unknown types are handled."""

from upstream.protocol import SERVICE_TYPES as TYPE_NAMES
from upstream.protocol import normalize_service_type
from upstream.service_types import ORDER_PARAMS, SERVICE_TYPES, SUPPORTED_TYPES, kind_of, service_type


def test_every_type_is_named_once_and_read_in_any_spelling():
    assert tuple(SERVICE_TYPES) == TYPE_NAMES
    for name in SERVICE_TYPES:
        assert normalize_service_type(f"  {name.upper().replace(' ', '_')} ") == name


def test_it_counts_quantity_by_the_type():
    assert SERVICE_TYPES["Default"].params(dripfeed=True) == ["link", "quantity", "runs", "interval"]
    assert SERVICE_TYPES["Default"].params(dripfeed=False) == ["link", "quantity"]
    assert SERVICE_TYPES["Custom Comments"].params(dripfeed=True) == ["link", "comments"]
    assert SERVICE_TYPES["Package"].params(dripfeed=True) == ["link"]
    assert not SERVICE_TYPES["Comment Replies"].quantity and SERVICE_TYPES["Comment Replies"].counted == "comments"
    assert "google_keyword" in ORDER_PARAMS and "key" not in ORDER_PARAMS


def test_the_panel_takes_no_subscriptions_and_no_unknown_type():
    assert service_type("Subscriptions") is None and "Subscriptions" not in SUPPORTED_TYPES
    assert service_type("Made Up") is None
    assert service_type("Mentions") is SERVICE_TYPES["Mentions"]


def test_an_order_whose_type_was_renamed_upstream_keeps_the_package_convention():
    assert kind_of("Story Views Package").package and not kind_of("Story Views Package").quantity
    assert not kind_of("Likes Plus").package and kind_of("Likes Plus").quantity
    assert kind_of("Poll") is SERVICE_TYPES["Poll"]
