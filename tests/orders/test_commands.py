"""Operators' commands: poll, create_customer, credit, check_ledger."""

import re
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from accounts.models import User
from billing.models import LedgerEntry, Wallet
from orders.models import Order
from orders.services.placement import order_place

pytestmark = pytest.mark.django_db

LINK = "https://instagram.com/p/abc"


def _call(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=out)
    return out.getvalue()


def test_poll_runs_a_whole_cycle_and_says_what_it_did(alice, services, simulator):
    simulator.force_outcome = "Canceled"
    order = order_place(user=alice, service_id=services[1].pk, params={"link": LINK, "quantity": "1000"})
    output = _call("poll")
    assert "Forwarded: 1 sent." in output
    simulator.clock.advance(3600)
    assert "Statuses: 0 polled" in _call("poll")  # not due yet
    output = _call("poll", "--all")
    assert "Statuses: 1 polled in 1 calls, 1 changed, 1 refunds (1.35000)" in output
    assert Order.objects.get(pk=order.pk).status == "Canceled"


def test_poll_exits_cleanly_and_reports_when_the_provider_is_down(alice, services, simulator):
    order_place(user=alice, service_id=services[1].pk, params={"link": LINK, "quantity": "1000"})
    _call("poll")
    simulator.stop()
    output = _call("poll", "--all")
    assert "Failed: Sim: status: cannot connect to the provider" in output


def test_create_customer_makes_a_customer_and_refuses_a_duplicate():
    output = _call("create_customer", "erin", "--email", "erin@example.com", "--password", "a-long-enough-pass-42")
    erin = User.objects.get(username="erin")
    assert "Created customer erin" in output and erin.check_password("a-long-enough-pass-42") and not erin.is_staff
    with pytest.raises(CommandError, match="already exists"):
        _call("create_customer", "Erin", "--email", "e2@example.com")
    with pytest.raises(CommandError, match="valid email"):
        _call("create_customer", "frank", "--email", "not-an-email")
    with pytest.raises(CommandError, match="too short"):
        _call("create_customer", "gina", "--email", "g@example.com", "--password", "short")


def test_credit_records_a_deposit_with_its_note(alice):
    output = _call("credit", "alice", "12.5", "--note", "PayPal 7XK2")
    assert "Credited 12.50000 USD to alice; balance 112.50000 USD." in output
    entry = LedgerEntry.objects.first()
    assert (entry.kind, entry.note) == ("deposit", "PayPal 7XK2")
    for amount, message in (("-1", "positive"), ("abc", "Not an amount"), ("1.123456", "5 decimal places")):
        with pytest.raises(CommandError, match=message):
            _call("credit", "alice", amount)
    with pytest.raises(CommandError, match="No user named 'nobody'"):
        _call("credit", "nobody", "1")


@pytest.mark.ledger_mismatch_expected
def test_check_ledger_names_each_wallet_that_disagrees(alice):
    assert "Every wallet matches its ledger." in _call("check_ledger")
    Wallet.objects.filter(user=alice).update(balance=Decimal("99"))
    out = StringIO()
    with pytest.raises(CommandError, match="1 wallet"):
        call_command("check_ledger", stdout=out, stderr=out)
    assert re.search(r"alice: balance 99\.0+ but entries sum to 100\.0+", out.getvalue())
