"""A second panel buys from ours through /api/v2 on a live server: our own client against our own server."""

from decimal import Decimal

import pytest

from accounts.services import api_key_issue
from billing.models import LedgerEntry, Wallet
from billing.services import wallet_credit
from catalog.models import Service
from catalog.services.sync import catalog_sync
from orders.models import Order, Refill
from orders.services.followups import cancel_request, cancels_forward, refill_request, refills_forward, refills_poll
from orders.services.forwarding import order_forward
from orders.services.placement import order_place
from orders.services.polling import poll_statuses
from tests.factories import ProviderFactory


@pytest.mark.django_db(transaction=True)
def test_a_downstream_panel_resells_our_catalog_end_to_end(live_server, services, simulator, alice, bob):
    reseller = ProviderFactory.create(
        name="Our panel", api_url=f"{live_server.url}/api/v2", api_key=api_key_issue(user=alice),
        markup_percent=Decimal(20),
    )  # fmt: skip
    assert catalog_sync(provider=reseller).ok
    mirrored = Service.objects.get(provider=reseller, upstream_id=services[1].pk)
    assert (mirrored.name, mirrored.upstream_rate, mirrored.rate) == (
        "Instagramフォロワー",
        Decimal("1.35"),
        Decimal("1.62"),
    )
    assert (mirrored.refill, mirrored.cancel, mirrored.min_quantity) == (True, True, 50)

    wallet_credit(user=bob, amount=Decimal(10))
    simulator.force_outcome = "Completed"
    theirs = order_place(user=bob, service_id=mirrored.pk, params={"link": "https://x.com/p/1", "quantity": "1000"})
    assert order_forward(order_id=theirs.pk) == "sent"  # downstream → our /api/v2
    ours = Order.objects.get(user=alice)
    assert Order.objects.get(pk=theirs.pk).upstream_id == ours.pk and ours.charge == Decimal("1.35000")
    assert order_forward(order_id=ours.pk) == "sent"  # ours → the simulator provider

    simulator.clock.advance(3600)
    poll_statuses(everything=True)  # ours sees Completed; then the downstream order sees it through our API
    poll_statuses(everything=True)
    assert Order.objects.get(pk=ours.pk).status == Order.objects.get(pk=theirs.pk).status == "Completed"

    refill_request(user=bob, order_id=theirs.pk)
    refills_forward()  # downstream → our API (which queues a refill of ours)
    refills_forward()  # ours → the simulator
    assert Refill.objects.filter(status="sent").count() == 2
    simulator.clock.advance(3600)
    refills_poll(everything=True)
    refills_poll(everything=True)
    assert set(Refill.objects.values_list("status", flat=True)) == {"Completed"}

    second = order_place(user=bob, service_id=mirrored.pk, params={"link": "https://x.com/p/2", "quantity": "1000"})
    assert order_forward(order_id=second.pk) == "sent"
    cancel_request(user=bob, order_id=second.pk)
    assert cancels_forward().accepted == 1  # our API cancels alice's unsent order at once, with a refund
    poll_statuses(everything=True)
    assert Order.objects.get(pk=second.pk).status == "Canceled"
    assert LedgerEntry.objects.filter(order=second, kind="refund").get().amount == second.charge
    assert Wallet.objects.get(user=bob).balance == Decimal(10) - theirs.charge
    assert Wallet.objects.get(user=alice).balance == Decimal(100) - ours.charge
