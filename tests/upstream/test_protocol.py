"""Tolerant parsing of real-world provider values (no HTTP here; see test_client.py for whole replies)."""

from decimal import Decimal

import pytest

from upstream.protocol import (
    OrderState,
    ParseError,
    RefillState,
    decode_body,
    error_message,
    is_retryable_refusal,
    normalize_service_type,
    parse_bool,
    parse_catalog,
    parse_count,
    parse_decimal,
    parse_order_state,
    parse_order_status,
    parse_refill_state,
    parse_remains,
    parse_start_count,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0.27819", Decimal("0.27819")),
        (Decimal("0.90"), Decimal("0.90")),
        (12, Decimal(12)),
        (" 1,234.56 ", Decimal("1234.56")),
        ("1,234,567", Decimal(1234567)),
        ("1e-3", Decimal("0.001")),
        (".5", Decimal("0.5")),
    ],
)
def test_it_reads_numbers_as_providers_send_them(raw, expected):
    assert parse_decimal(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["", "abc", "NaN", "Infinity", "1.2.3", "12,34", "0,900", True, None, [], "0x10", "1e1000000", "1e-40"],
)
def test_it_rejects_what_is_not_a_number(raw):
    with pytest.raises(ParseError):
        parse_decimal(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("3572", 3572), (157, 157), ("1,234", 1234), ("12.0", 12), ("", None), ("Unknown", None), (None, None),
     ("unknown ", None)],
)  # fmt: skip
def test_it_reads_counts_keeping_unknown_apart_from_zero(raw, expected):
    assert parse_count(raw) == expected


def test_it_reads_over_delivery_as_nothing_left_and_a_negative_start_count_as_unknown():
    assert parse_remains("-5") == 0 and parse_remains("7") == 7 and parse_remains("") is None
    assert parse_start_count("-1") is None and parse_start_count("0") == 0


def test_it_rejects_fractional_counts():
    with pytest.raises(ParseError):
        parse_count("12.5")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(True, True), (False, False), (1, True), (0, False), ("1", True), ("0", False), ("true", True),
     ("False", False), (None, False), ("", False), ("yes", True)],
)  # fmt: skip
def test_it_reads_booleans_in_every_spelling(raw, expected):
    assert parse_bool(raw) is expected


def test_it_rejects_a_boolean_it_cannot_read():
    with pytest.raises(ParseError):
        parse_bool("maybe")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Pending", OrderState.PENDING),
        ("In progress", OrderState.IN_PROGRESS),
        ("In Progress", OrderState.IN_PROGRESS),
        ("in_progress", OrderState.IN_PROGRESS),
        ("Processing", OrderState.PROCESSING),
        ("completed", OrderState.COMPLETED),
        ("PARTIAL", OrderState.PARTIAL),
        ("Canceled", OrderState.CANCELED),
        ("Cancelled", OrderState.CANCELED),
        ("Refunded", OrderState.CANCELED),
        ("Fail", None),
        ("Error", None),
    ],
)
def test_it_normalises_order_status_spellings(raw, expected):
    assert parse_order_state(raw) == expected


def test_it_refuses_an_unknown_order_status_instead_of_guessing():
    with pytest.raises(ParseError, match="Delivering"):
        parse_order_state("Delivering")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("Completed", RefillState.COMPLETED), ("in progress", RefillState.IN_PROGRESS),
     ("Rejected", RefillState.REJECTED), ("Cancelled", RefillState.REJECTED), ("error", RefillState.ERROR)],
)  # fmt: skip
def test_it_normalises_refill_statuses(raw, expected):
    assert parse_refill_state(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("default", "Default"), ("Custom comments", "Custom Comments"), ("custom_comments_package",
     "Custom Comments Package"), ("Mentions with hashtags", "Mentions with Hashtags"), ("Weird New Type",
     "Weird New Type")],
)  # fmt: skip
def test_it_normalises_service_type_names(raw, expected):
    assert normalize_service_type(raw) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"order": 23501}', {"order": 23501}),
        (b'\xef\xbb\xbf{"order": 1}', {"order": 1}),
        (b'<br />\n<b>Notice</b>:  Undefined index: runs in <b>/api.php</b>\n{"order": 7}', {"order": 7}),
        (b"Warning: something [deprecated] happened\n[1, 2]", [1, 2]),
        (b'  {"balance": 100.84292}  ', {"balance": Decimal("100.84292")}),
    ],
)
def test_it_finds_the_json_in_a_body(body, expected):
    assert decode_body(body) == expected


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"   ",
        b"<html><body><h1>502 Bad Gateway</h1></body></html>",
        b'{"order": 1',
        b'{"a": 1} trailing',
    ],
)
def test_it_refuses_a_body_without_json(body):
    with pytest.raises(ParseError):
        decode_body(body)


def test_it_reads_floats_without_binary_rounding():
    assert decode_body(b'{"rate": 0.1}') == {"rate": Decimal("0.1")}


@pytest.mark.parametrize(
    ("message", "retryable"),
    [
        ("Not enough funds on balance", True),
        ("Too many requests", True),
        ("Invalid API key", True),
        ("Service temporarily disabled", True),
        ("Incorrect service ID", False),
        ("Incorrect link", False),
        ("Quantity less than minimal 50", False),
        ("You have active order with this link. Please wait until order being completed.", False),
    ],
)
def test_it_classifies_refusals_by_message(message, retryable):
    assert is_retryable_refusal(message) is retryable


def test_it_skips_malformed_catalog_entries_and_keeps_the_rest():
    catalog = parse_catalog(
        [
            {"service": 1, "name": "Good", "type": "Default", "category": "A", "rate": "0.90", "min": "50",
             "max": "10000", "refill": "1", "average_time": "2 hours"},
            {"service": 2, "name": "No rate", "category": "A", "min": 1, "max": 2},
            {"service": "x", "name": "Bad id", "rate": "1", "min": 1, "max": 2},
            {"service": 3, "name": "Inverted", "rate": "1", "min": 100, "max": 10},
            {"service": 1, "name": "Duplicate", "rate": "1", "min": 1, "max": 2},
            "not an object",
            {"service": 4, "name": "Package", "type": "package", "rate": 12, "min": 1, "max": 1},
        ]
    )  # fmt: skip
    assert [s.service for s in catalog.services] == [1, 4]
    good, package = catalog.services
    assert good.refill is True and good.cancel is False and good.dripfeed is False
    assert good.rate == Decimal("0.90") and good.min == 50 and good.max == 10000
    assert good.extra == {"average_time": "2 hours"}
    assert package.type == "Package"
    assert [s.position for s in catalog.skipped] == [1, 2, 3, 4, 5]
    assert "rate is missing" in catalog.skipped[0].reason
    assert "appears twice" in catalog.skipped[3].reason


def test_it_refuses_huge_exponents_at_once():
    # int() of such a value would keep a worker busy for minutes.
    with pytest.raises(ParseError, match="out of range"):
        parse_count("1e1000000000")


@pytest.mark.parametrize("payload", [{"error": ""}, {"error": None}, {"error": False}, {"error": "  "}, {"order": 1}])
def test_it_does_not_take_an_empty_error_field_for_an_error(payload):
    assert error_message(payload) is None


def test_it_reads_a_negative_charge_as_unreadable():
    with pytest.raises(ParseError, match="negative"):
        parse_order_status({"status": "Completed", "charge": "-3"})
