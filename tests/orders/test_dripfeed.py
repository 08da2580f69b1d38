"""Drip-feed the panel runs itself, end to end against the simulator: runs placed by beat, the parent settled."""

from datetime import timedelta
from decimal import Decimal
from itertools import pairwise

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from accounts.services import api_key_issue
from billing.affiliates.services import affiliate_account_open, referral_record
from billing.models import LedgerEntry, Wallet
from billing.services import wallet_credit
from catalog.services.listings import service_save
from notifications.models import Notification
from orders.models import CancelRequest, Order
from orders.selectors import customer_summary, orders_for_user
from orders.services.dripfeed import dripfeeds_advance
from orders.services.followups import cancel_request
from orders.services.forwarding import order_forward
from orders.services.lifecycle import order_close
from orders.services.operators import order_dripfeed_stop, order_finish
from orders.services.placement import order_place
from orders.services.polling import poll_statuses
from orders.validation import OrderError
from tests.concurrency import run_together

pytestmark = pytest.mark.django_db

LINK = "https://instagram.com/p/abc"
INTERVAL = 30  # minutes
Status = Order.Status


@pytest.fixture
def followers(services):
    """Instagram followers: no drip-feed at the provider; the panel runs it."""
    service = services[1]
    assert not service.dripfeed
    service.panel_dripfeed = True
    return service_save(service=service, fields=["panel_dripfeed"], actor=None)


def _place(user, service, *, runs: int = 5, quantity: int = 1000) -> Order:
    params = {"link": LINK, "quantity": str(quantity), "runs": str(runs), "interval": str(INTERVAL)}
    return order_place(user=user, service_id=service.pk, params=params)


def _cycle(now) -> list[int]:
    """One beat cycle, then the forwarding of the runs it placed (a worker's part)."""
    placed = dripfeeds_advance(now=now).placed
    for order_id in placed:
        assert order_forward(order_id=order_id) == "sent"
    return placed


def _entries(order: Order, kind: str) -> list[Decimal]:
    return list(LedgerEntry.objects.filter(order=order, kind=kind).values_list("amount", flat=True))


def test_it_places_five_runs_an_interval_apart_and_settles_a_partial_run_once(alice, followers, simulator):
    parent = _place(alice, followers)
    assert (parent.submission, parent.quantity, parent.charge) == ("drip", 5000, Decimal("6.75000"))
    assert Wallet.objects.get(user=alice).balance == Decimal("93.25000")
    start = timezone.now()
    for run in range(5):
        # The simulator decides each order's fate when it is placed: the fourth run will deliver 60%.
        simulator.force_outcome = "Partial" if run == 3 else "Completed"
        now = start + timedelta(minutes=INTERVAL * run)
        assert len(_cycle(now)) == 1
        assert _cycle(now) == [], "a run is placed once, however many cycles run"
        poll_statuses(everything=True)
        simulator.clock.advance(INTERVAL * 60)

    adds = simulator.calls_for("add")
    assert len(adds) == 5
    assert [later.at - earlier.at for earlier, later in pairwise(adds)] == [INTERVAL * 60.0] * 4
    assert all(add.params["quantity"] == "1000" and "runs" not in add.params for add in adds)
    assert all(add.params["service"] == str(followers.upstream_id) for add in adds)

    simulator.clock.advance(3600)
    poll_statuses(everything=True)
    runs = list(parent.children.order_by("run"))
    assert [(run.run, run.status, run.charge) for run in runs] == [
        (1, "Completed", 0), (2, "Completed", 0), (3, "Completed", 0), (4, "Partial", 0), (5, "Completed", 0)
    ]  # fmt: skip
    assert dripfeeds_advance().ended == 1
    assert dripfeeds_advance().ended == 0
    parent.refresh_from_db()
    assert (parent.status, parent.remains) == ("Partial", 400)
    assert _entries(parent, LedgerEntry.Kind.REFUND) == [Decimal("0.54000")]  # 6.75 × 400 / 5000
    assert not LedgerEntry.objects.filter(order__parent=parent).exists(), "runs carry no money of their own"
    assert Wallet.objects.get(user=alice).balance == Decimal("93.79000")
    ended = Notification.objects.filter(user=alice, kind=Notification.Kind.ORDER_ENDED)
    assert list(ended.values_list("order_id", "status", "refund")) == [(parent.pk, "Partial", Decimal("0.54000"))]


def test_it_follows_the_runs_while_they_go(alice, followers, simulator):
    parent = _place(alice, followers, runs=3)
    start = timezone.now()
    _cycle(start)
    dripfeeds_advance(now=start)
    parent.refresh_from_db()
    assert (parent.status, parent.remains, parent.start_count) == ("Pending", 3000, None)
    simulator.clock.advance(30)
    poll_statuses(everything=True)
    dripfeeds_advance(now=start)
    parent.refresh_from_db()
    first = parent.children.get()
    assert parent.status == "In progress" and parent.start_count == first.start_count is not None
    assert parent.remains == 2000 + first.remains


def test_the_customer_sees_one_order_with_its_progress(client, alice, bob, followers, simulator):
    parent = _place(alice, followers)
    simulator.force_outcome = "Completed"
    start = timezone.now()
    _cycle(start)
    _cycle(start + timedelta(minutes=INTERVAL))
    simulator.clock.advance(3600)
    poll_statuses(everything=True)
    assert [order.pk for order in orders_for_user(user=alice)] == [parent.pk]
    assert customer_summary(user=alice).in_progress == 1
    client.force_login(alice)
    page = client.get("/orders/").content.decode()
    assert "2 of 5 runs done" in page
    for run in parent.children.all():
        assert f">{run.pk}<" not in page
        answer = client.post(f"/orders/{run.pk}/cancel/", headers={"X-Requested-With": "fetch"})
        assert answer.json() == {"ok": False, "message": "Incorrect order ID"}
    client.force_login(bob)
    assert "runs done" not in client.get("/orders/").content.decode()


def test_the_api_answers_status_for_the_parent_only(client, alice, bob, followers, simulator):
    parent = _place(alice, followers)
    _cycle(timezone.now())
    run = parent.children.get()
    key = api_key_issue(user=alice)
    status = client.post("/api/v2", {"key": key, "action": "status", "order": parent.pk}).json()
    assert status == {"charge": "6.75000", "start_count": "0", "status": "Pending", "remains": "5000",
                      "currency": "USD"}  # fmt: skip
    assert client.post("/api/v2", {"key": key, "action": "status", "order": run.pk}).json() == {
        "error": "Incorrect order ID"
    }
    both = client.post("/api/v2", {"key": key, "action": "status", "orders": f"{parent.pk},{run.pk}"}).json()
    assert both[str(run.pk)] == {"error": "Incorrect order ID"} and both[str(parent.pk)]["status"] == "Pending"
    bobs = api_key_issue(user=bob)
    assert client.post("/api/v2", {"key": bobs, "action": "status", "order": parent.pk}).json() == {
        "error": "Incorrect order ID"
    }


def test_a_cancel_before_any_run_was_sent_refunds_everything_once(alice, followers, simulator):
    parent = _place(alice, followers)
    dripfeeds_advance()  # the first run is placed, not sent yet
    run = parent.children.get()
    assert cancel_request(user=alice, order_id=parent.pk) is None
    parent.refresh_from_db()
    run.refresh_from_db()
    assert (run.status, run.submission) == ("Canceled", "queued")
    assert (parent.status, parent.remains) == ("Canceled", 5000)
    assert _entries(parent, LedgerEntry.Kind.REFUND) == [Decimal("6.75000")]
    assert order_forward(order_id=run.pk) == "", "a canceled run is never sent"
    assert dripfeeds_advance(now=timezone.now() + timedelta(days=1)).placed == []
    assert simulator.calls_for("add") == []
    with pytest.raises(OrderError, match="Cancel is disabled for this order"):
        cancel_request(user=alice, order_id=parent.pk)
    assert Wallet.objects.get(user=alice).balance == Decimal(100)


def test_a_cancel_midway_stops_the_runs_and_refunds_what_was_not_delivered(alice, followers, simulator):
    parent = _place(alice, followers)
    simulator.force_outcome = "Completed"
    start = timezone.now()
    _cycle(start)
    dripfeeds_advance(now=start + timedelta(minutes=INTERVAL))  # run 2 placed, not sent
    cancel_request(user=alice, order_id=parent.pk)
    runs = list(parent.children.order_by("run"))
    assert [(run.submission, run.status) for run in runs] == [("sent", "Pending"), ("queued", "Canceled")]
    # The run sent goes on (its service cancels upstream: it is asked to); no more runs are placed.
    assert CancelRequest.objects.filter(order=runs[0]).count() == 1
    assert dripfeeds_advance(now=start + timedelta(days=1)).placed == []
    parent.refresh_from_db()
    assert parent.status == "In progress" and parent.reason
    simulator.clock.advance(3600)
    poll_statuses(everything=True)
    assert dripfeeds_advance().ended == 1
    parent.refresh_from_db()
    assert (parent.status, parent.remains) == ("Partial", 4000)
    assert _entries(parent, LedgerEntry.Kind.REFUND) == [Decimal("5.40000")]  # 6.75 × 4000 / 5000
    assert len(simulator.calls_for("add")) == 1


def test_a_run_refused_for_good_counts_as_undelivered(alice, followers, simulator):
    parent = _place(alice, followers, runs=2)
    simulator.force_outcome = "Completed"
    start = timezone.now()
    _cycle(start)
    dripfeeds_advance(now=start + timedelta(minutes=INTERVAL))
    second = parent.children.get(run=2)
    simulator.script_reply('{"error": "Quantity out of range"}')
    assert order_forward(order_id=second.pk) == "rejected"
    simulator.clock.advance(3600)
    poll_statuses(everything=True)
    dripfeeds_advance()
    parent.refresh_from_db()
    assert (parent.status, parent.remains) == ("Partial", 1000)
    assert _entries(parent, LedgerEntry.Kind.REFUND) == [Decimal("1.35000")]
    assert not LedgerEntry.objects.filter(order=second).exists()


def test_the_referrer_earns_on_the_parent_only(alice, bob, followers, simulator, settings):
    settings.AFFILIATE_COMMISSION_PERCENT = Decimal(10)
    referral_record(referred=bob, code=affiliate_account_open(user=alice).code)
    wallet_credit(user=bob, amount=Decimal(10))
    parent = _place(bob, followers, runs=2)
    simulator.force_outcome = "Completed"
    start = timezone.now()
    _cycle(start)
    _cycle(start + timedelta(minutes=INTERVAL))
    simulator.clock.advance(3600)
    poll_statuses(everything=True)
    dripfeeds_advance()
    dripfeeds_advance()
    commissions = LedgerEntry.objects.filter(kind=LedgerEntry.Kind.COMMISSION)
    assert list(commissions.values_list("order_id", "amount")) == [(parent.pk, Decimal("0.27000"))]


@pytest.mark.django_db(transaction=True)
def test_two_cycles_at_once_place_each_run_once(alice, followers, simulator):
    parent = _place(alice, followers)
    results = run_together(lambda: dripfeeds_advance().placed, 4)
    assert sorted(len(result) for result in results if isinstance(result, list)) == [0, 0, 0, 1]
    assert parent.children.count() == 1


def test_a_service_with_the_providers_own_dripfeed_is_forwarded_with_runs(alice, services, simulator):
    likes = services[2]
    likes.panel_dripfeed = True
    likes = service_save(service=likes, fields=["panel_dripfeed"], actor=None)
    order = _place(alice, likes, quantity=100)
    assert order.submission == "queued"
    assert order_forward(order_id=order.pk) == "sent"
    (add,) = simulator.calls_for("add")
    assert (add.params["runs"], add.params["interval"], add.params["quantity"]) == ("5", "30", "100")
    assert not dripfeeds_advance().placed


def test_it_refuses_runs_where_nobody_runs_the_dripfeed(alice, services):
    with pytest.raises(OrderError, match="Drip-feed is disabled for this service"):
        _place(alice, services[1])
    assert not Order.objects.exists()


def test_the_command_runs_one_cycle(alice, followers, simulator, capsys):
    parent = _place(alice, followers)
    call_command("dripfeed")
    out = capsys.readouterr().out
    assert "Drip-feed runs placed: 1; forwarded: 1 sent." in out
    assert parent.children.get().submission == "sent"


def test_api_clients_see_dripfeed_offered_and_place_one_order(client, alice, followers, simulator):
    key = api_key_issue(user=alice)
    listed = client.post("/api/v2", {"key": key, "action": "services"}).json()
    assert next(s for s in listed if s["service"] == followers.pk)["dripfeed"] is True
    params = {"key": key, "action": "add", "service": followers.pk, "link": LINK, "quantity": "100", "runs": "3",
              "interval": "15"}  # fmt: skip
    placed = client.post("/api/v2", params).json()
    parent = Order.objects.get(pk=placed["order"])
    assert (parent.submission, parent.quantity, parent.runs, parent.origin) == ("drip", 300, 3, "api")
    assert _cycle(timezone.now()) and simulator.calls_for("add")[0].params["quantity"] == "100"
    cancel = client.post("/api/v2", {"key": key, "action": "cancel", "orders": str(parent.children.get().pk)}).json()
    assert cancel == [{"order": parent.children.get().pk, "cancel": {"error": "Incorrect order ID"}}]


@pytest.mark.parametrize("status", [Status.COMPLETED, Status.PARTIAL, Status.CANCELED])
def test_an_operator_cannot_finish_a_drip_feed_but_stops_it(alice, followers, simulator, admin_user, status):
    parent = _place(alice, followers)
    dripfeeds_advance()  # the first run is placed, not sent yet
    with pytest.raises(OrderError, match="drip-feed the panel runs: use “Stop drip-feed”"):
        order_finish(order_id=parent.pk, status=status, actor=admin_user, remains=1000)
    parent.refresh_from_db()
    assert (parent.status, parent.submission) == ("Pending", "drip")
    assert _entries(parent, LedgerEntry.Kind.REFUND) == []

    assert order_dripfeed_stop(order_id=parent.pk, actor=admin_user)
    run = parent.children.get()
    assert order_forward(order_id=run.pk) == "", "the run not sent yet is canceled, never sent"
    parent.refresh_from_db()
    assert (parent.status, parent.remains) == ("Canceled", 5000)
    assert _entries(parent, LedgerEntry.Kind.REFUND) == [Decimal("6.75000")]
    assert simulator.calls_for("add") == []
    assert not order_dripfeed_stop(order_id=parent.pk, actor=admin_user), "it stops once"


def test_a_run_is_never_sent_once_its_parent_ended(alice, followers, simulator):
    parent = _place(alice, followers)
    dripfeeds_advance()
    # However the parent ended (refunded in full here), its queued run must not be delivered for free.
    assert order_close(order=parent, status=Status.CANCELED, note="test")
    run = parent.children.get()
    assert order_forward(order_id=run.pk) == ""
    assert simulator.calls_for("add") == []
    loose = order_place(user=alice, service_id=followers.pk, params={"link": LINK, "quantity": "1000"})
    assert order_forward(order_id=loose.pk) == "sent", "an order without a parent is claimed as before"


def test_in_admin_cancel_and_refund_points_to_stop_drip_feed_which_stops_it(admin_client, alice, followers, simulator):
    parent = _place(alice, followers)
    dripfeeds_advance()
    orders = reverse("admin:orders_order_changelist")
    selected = {"_selected_action": [str(parent.pk)]}
    refused = admin_client.post(orders, {"action": "cancel_and_refund", "apply": "1", "reason": "", **selected},
                                follow=True).content.decode()  # fmt: skip
    assert "is a drip-feed the panel runs: use “Stop drip-feed” instead" in refused
    assert _entries(parent, LedgerEntry.Kind.REFUND) == []
    stopped = admin_client.post(orders, {"action": "dripfeed_stop", **selected}, follow=True).content.decode()
    assert f"Drip-feed {parent.pk} is stopped" in stopped
    parent.refresh_from_db()
    assert (parent.status, parent.next_run_at) == ("Canceled", None)
    assert _entries(parent, LedgerEntry.Kind.REFUND) == [Decimal("6.75000")]
