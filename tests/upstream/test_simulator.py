import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from upstream.protocol import SERVICE_TYPES
from upstream.simulator import FakeClock, SimService, Simulator, demo_catalog, generated_catalog
from upstream.simulator.clock import RealClock

KEY = "alice-key"
LINK = "https://instagram.com/alice"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sim(clock: FakeClock) -> Iterator[Simulator]:
    with Simulator(key=KEY, clock=clock) as simulator:
        yield simulator


def api(sim: Simulator, **params: object) -> Any:
    response = requests.post(sim.url, data={"key": KEY, **params}, timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    return response.json()


def place(sim: Simulator, service: int = 1, quantity: int = 300, **extra: object) -> int:
    reply = api(sim, action="add", service=service, link=LINK, quantity=quantity, **extra)
    order_id: int = reply["order"]
    return order_id


def status(sim: Simulator, order_id: int) -> dict[str, str]:
    reply: dict[str, str] = api(sim, action="status", order=order_id)
    return reply


def test_it_rejects_a_wrong_or_missing_key(sim: Simulator) -> None:
    for data in ({"key": "bob-key", "action": "balance"}, {"action": "balance"}):
        response = requests.post(sim.url, data=data, timeout=5)
        assert response.status_code == 200
        assert response.json() == {"error": "Invalid API key"}


def test_it_rejects_an_unknown_or_missing_action(sim: Simulator) -> None:
    assert api(sim, action="steal") == {"error": "Incorrect request"}
    assert api(sim) == {"error": "Incorrect request"}


def test_it_accepts_get_query_strings_and_a_trailing_slash(sim: Simulator) -> None:
    response = requests.get(f"{sim.url}/", params={"key": KEY, "action": "balance"}, timeout=5)
    assert response.json() == {"balance": "1000.00000", "currency": "USD"}


def test_it_answers_other_paths_with_an_html_404(sim: Simulator) -> None:
    response = requests.post(sim.url.replace("/api/v2", "/api/v1"), data={"key": KEY}, timeout=5)
    assert response.status_code == 404
    assert "text/html" in response.headers["Content-Type"]


def test_it_reports_the_balance_with_five_decimals(clock: FakeClock) -> None:
    with Simulator(key=KEY, clock=clock, balance=Decimal("12.3456789"), currency="EUR") as simulator:
        assert api(simulator, action="balance") == {"balance": "12.34568", "currency": "EUR"}
        simulator.balance = Decimal("3")
        assert api(simulator, action="balance") == {"balance": "3.00000", "currency": "EUR"}


def test_it_lists_services_in_the_standard_shape(sim: Simulator) -> None:
    response = requests.post(sim.url, data={"key": KEY, "action": "services"}, timeout=5)
    services = response.json()
    assert services[0] == {
        "service": 1,
        "name": "Instagramフォロワー",
        "type": "Default",
        "category": "📸 Instagram",
        "rate": "0.90",
        "min": "50",
        "max": "10000",
        "refill": True,
        "cancel": True,
        "dripfeed": False,
        "desc": "Real-looking followers, 30 days refill.",
    }
    assert "Instagramフォロワー".encode() in response.content
    assert len(services) == len(demo_catalog())


def test_it_omits_the_flags_of_services_that_do_not_publish_them(sim: Simulator) -> None:
    entry = next(service for service in api(sim, action="services") if service["service"] == 3)
    assert entry["name"] == "TikTok 조회수"
    assert entry["rate"] == "0.0125"
    assert not {"refill", "cancel", "dripfeed"} & entry.keys()


def test_it_serves_catalog_changes_on_the_next_call(sim: Simulator) -> None:
    sim.catalog[0].rate = Decimal("1.10")
    del sim.catalog[1]
    sim.catalog.append(SimService(99, "Spotify Plays", "Default", "Spotify", Decimal("0.05"), 1000, 100000))
    services = {service["service"]: service for service in api(sim, action="services")}
    assert services[1]["rate"] == "1.10"
    assert 2 not in services
    assert services[99]["name"] == "Spotify Plays"


def test_it_places_orders_with_sequential_ids_and_charges_them(sim: Simulator) -> None:
    assert api(sim, action="add", service=1, link=LINK, quantity=300) == {"order": 1001}
    assert place(sim) == 1002
    assert api(sim, action="balance")["balance"] == "999.46000"
    assert status(sim, 1001)["charge"] == "0.27000"


def test_it_rejects_a_quantity_outside_the_limits(sim: Simulator) -> None:
    add = {"action": "add", "service": 1, "link": LINK}
    assert api(sim, **add, quantity=49) == {"error": "Quantity less than minimal 50"}
    assert api(sim, **add, quantity=10001) == {"error": "Quantity more than maximum 10000"}
    assert api(sim, **add) == {"error": "Quantity less than minimal 50"}
    assert sim.orders == {}


def test_it_rejects_a_missing_or_malformed_link(sim: Simulator) -> None:
    assert api(sim, action="add", service=1, quantity=300) == {"error": "Incorrect link"}
    assert api(sim, action="add", service=1, quantity=300, link="not a link") == {"error": "Incorrect link"}


def test_it_rejects_an_unknown_service(sim: Simulator) -> None:
    for service in ("999", "abc", ""):
        reply = api(sim, action="add", service=service, link=LINK, quantity=300)
        assert reply == {"error": "Incorrect service ID"}


def test_it_charges_drip_feed_orders_per_run(sim: Simulator) -> None:
    order_id = place(sim, service=2, quantity=100, runs=3, interval=10)
    reply = status(sim, order_id)
    assert (reply["charge"], reply["remains"]) == ("0.07500", "300")
    assert api(sim, action="balance")["balance"] == "999.92500"


def test_it_checks_the_limits_per_run_for_drip_feed(sim: Simulator) -> None:
    place(sim, service=2, quantity=5000, runs=2, interval=10)
    reply = api(sim, action="add", service=2, link=LINK, quantity=5001, runs=2, interval=10)
    assert reply == {"error": "Quantity more than maximum 5000"}


def test_it_rejects_drip_feed_on_a_service_without_it(sim: Simulator) -> None:
    reply = api(sim, action="add", service=1, link=LINK, quantity=300, runs=2, interval=10)
    assert reply == {"error": "Drip-feed is disabled for this service"}
    assert place(sim, service=1, runs="undefined", interval="undefined") == 1001


def test_it_charges_a_package_its_rate(sim: Simulator) -> None:
    assert api(sim, action="add", service=5, link=LINK) == {"order": 1001}
    assert api(sim, action="balance")["balance"] == "998.50000"


def test_it_counts_custom_comment_lines_as_the_quantity(sim: Simulator) -> None:
    reply = api(sim, action="add", service=6, link=LINK, comments="nice\r\ngreat\n\nwow\n🔥\nyes")
    assert status(sim, reply["order"])["charge"] == "0.06000"
    assert status(sim, reply["order"])["remains"] == "5"
    reply = api(sim, action="add", service=6, link=LINK, comments="nice\ngreat\nwow\n🔥")
    assert reply == {"error": "Quantity less than minimal 5"}


def test_it_charges_a_custom_comments_package_its_rate(sim: Simulator) -> None:
    reply = api(sim, action="add", service=7, link=LINK, comments="すごい\nかわいい")
    assert status(sim, reply["order"])["charge"] == "4.99000"


def test_it_counts_usernames_for_a_mentions_custom_list(sim: Simulator) -> None:
    usernames = "\n".join(f"user{n}" for n in range(10))
    reply = api(sim, action="add", service=10, link=LINK, usernames=usernames)
    assert status(sim, reply["order"])["charge"] == "0.05000"


TYPED_ORDERS = [
    (8, {"quantity": 100, "usernames": "alice\nbob"}),
    (9, {"quantity": 100, "usernames": "alice\nbob", "hashtags": "#sun\n#sea"}),
    (10, {"usernames": "\n".join(f"user{n}" for n in range(10))}),
    (11, {"quantity": 100, "hashtag": "#sun"}),
    (12, {"quantity": 100, "username": "bob"}),
    (13, {"quantity": 100, "media": "https://instagram.com/p/xyz"}),
    (14, {"quantity": 20, "username": "bob"}),
    (15, {"username": "bob", "comments": "agreed\nso true"}),
    (16, {"quantity": 100, "answer_number": 2}),
    (17, {"quantity": 100, "groups": "group_one\ngroup_two"}),
]


@pytest.mark.parametrize(("service", "fields"), TYPED_ORDERS)
def test_it_requires_the_fields_of_each_service_type(sim: Simulator, service: int, fields: dict[str, object]) -> None:
    for missing in fields.keys() - {"quantity"}:
        partial = {name: value for name, value in fields.items() if name != missing}
        assert api(sim, action="add", service=service, link=LINK, **partial) == {"error": "Incorrect request"}
    assert sim.orders == {}
    assert api(sim, action="add", service=service, link=LINK, **fields) == {"order": 1001}


def test_it_validates_web_traffic_options(sim: Simulator) -> None:
    add = {"action": "add", "service": 18, "link": "https://example.com", "quantity": 1000}
    assert api(sim, **add, device=6) == {"error": "Incorrect request"}
    assert api(sim, **add, type_of_traffic=1) == {"error": "Incorrect request"}
    reply = api(sim, **add, device=2, type_of_traffic=1, google_keyword="shoes", country="US", runs=2, interval=5)
    assert status(sim, reply["order"])["charge"] == "0.70000"


def test_it_refuses_subscriptions(sim: Simulator) -> None:
    reply = api(sim, action="add", service=19, username="alice", min=50, max=100)
    assert reply == {"error": "Incorrect request"}


def test_it_refuses_an_order_beyond_the_balance(sim: Simulator) -> None:
    sim.balance = Decimal("0.26")
    assert api(sim, action="add", service=1, link=LINK, quantity=300) == {"error": "Not enough funds on balance"}
    assert sim.orders == {}
    assert sim.balance == Decimal("0.26")
    sim.balance = Decimal("0.27")
    place(sim)
    assert api(sim, action="balance")["balance"] == "0.00000"


def test_it_moves_an_order_from_pending_through_in_progress_to_completed(sim: Simulator, clock: FakeClock) -> None:
    order_id = place(sim, quantity=300)
    assert status(sim, order_id)["status"] == "Pending"
    assert status(sim, order_id)["remains"] == "300"
    clock.advance(10)
    assert status(sim, order_id)["status"] == "In progress"
    clock.advance(30)
    assert (status(sim, order_id)["status"], status(sim, order_id)["remains"]) == ("In progress", "150")
    clock.advance(30)
    assert (status(sim, order_id)["status"], status(sim, order_id)["remains"]) == ("Completed", "0")


def test_it_follows_the_configured_timings(clock: FakeClock) -> None:
    with Simulator(key=KEY, clock=clock, pending_seconds=1, delivery_seconds=4) as simulator:
        order_id = place(simulator, quantity=400)
        clock.advance(3)
        assert status(simulator, order_id)["remains"] == "200"
        clock.advance(2)
        assert status(simulator, order_id)["status"] == "Completed"


def test_it_ends_some_orders_as_partial_or_canceled_by_id(sim: Simulator, clock: FakeClock) -> None:
    for _ in range(9):
        place(sim, quantity=300)
    clock.advance(5)
    assert status(sim, 1009)["status"] == "Pending"
    clock.advance(100)
    assert (status(sim, 1001)["status"], status(sim, 1001)["remains"]) == ("Completed", "0")
    assert (status(sim, 1007)["status"], status(sim, 1007)["remains"]) == ("Partial", "120")
    assert (status(sim, 1009)["status"], status(sim, 1009)["remains"]) == ("Canceled", "300")


def test_it_forces_the_outcome_of_later_orders(sim: Simulator, clock: FakeClock) -> None:
    first = place(sim)
    sim.force_outcome = "Canceled"
    canceled = place(sim)
    sim.force_outcome = "Partial"
    partial = place(sim)
    clock.advance(100)
    assert status(sim, first)["status"] == "Completed"
    assert status(sim, canceled)["status"] == "Canceled"
    assert status(sim, partial)["status"] == "Partial"


def test_it_answers_batch_status_with_unknown_ids(sim: Simulator) -> None:
    first, second = place(sim), place(sim)
    reply = api(sim, action="status", orders=f"{first}, {second},42")
    assert list(reply) == [str(first), str(second), "42"]
    assert reply[str(first)]["status"] == "Pending"
    assert reply["42"] == {"error": "Incorrect order ID"}
    assert api(sim, action="status", order=42) == {"error": "Incorrect order ID"}


def test_it_refuses_more_than_100_ids(sim: Simulator) -> None:
    ids = ",".join(str(n) for n in range(1, 102))
    for action in ("status", "cancel", "refill", "refill_status"):
        assert api(sim, action=action, orders=ids) == {"error": "Too many ids"}
    assert len(api(sim, action="status", orders=",".join(str(n) for n in range(1, 101)))) == 100


def test_it_cancels_a_pending_order(sim: Simulator, clock: FakeClock) -> None:
    order_id = place(sim)
    reply = api(sim, action="cancel", orders=f"9,{order_id}")
    assert reply == [
        {"order": 9, "cancel": {"error": "Incorrect order ID"}},
        {"order": order_id, "cancel": 1},
    ]
    clock.advance(100)
    assert (status(sim, order_id)["status"], status(sim, order_id)["remains"]) == ("Canceled", "300")
    reply = api(sim, action="cancel", order=order_id)
    assert reply == [{"order": order_id, "cancel": {"error": "Cancel is disabled for this order"}}]


def test_it_cancels_an_order_in_progress_as_partial(sim: Simulator, clock: FakeClock) -> None:
    order_id = place(sim, quantity=300)
    clock.advance(40)
    assert api(sim, action="cancel", order=order_id) == [{"order": order_id, "cancel": 1}]
    clock.advance(100)
    assert (status(sim, order_id)["status"], status(sim, order_id)["remains"]) == ("Partial", "150")


def test_it_refuses_cancel_when_the_service_or_order_does_not_allow_it(sim: Simulator, clock: FakeClock) -> None:
    no_cancel = place(sim, service=4, quantity=1000)
    done = place(sim)
    clock.advance(100)
    reply = api(sim, action="cancel", orders=f"{no_cancel},{done}")
    assert reply == [
        {"order": no_cancel, "cancel": {"error": "Cancel is disabled for this order"}},
        {"order": done, "cancel": {"error": "Cancel is disabled for this order"}},
    ]


def test_it_refills_a_completed_order_once_at_a_time(sim: Simulator, clock: FakeClock) -> None:
    order_id = place(sim)
    assert api(sim, action="refill", order=order_id) == {"error": "Refill is disabled for this order"}
    clock.advance(100)
    assert api(sim, action="refill", order=order_id) == {"refill": "1"}
    assert api(sim, action="refill", order=order_id) == {"error": "Refill is disabled for this order"}
    clock.advance(30)
    assert api(sim, action="refill", orders=f"{order_id},3") == [
        {"order": order_id, "refill": 2},
        {"order": 3, "refill": {"error": "Incorrect order ID"}},
    ]


def test_it_refuses_refill_for_services_without_it(sim: Simulator, clock: FakeClock) -> None:
    order_id = place(sim, service=2, quantity=100)
    clock.advance(100)
    assert api(sim, action="refill", order=order_id) == {"error": "Refill is disabled for this order"}
    assert api(sim, action="refill", order=77) == {"error": "Incorrect order ID"}


def test_it_refills_a_partial_order(sim: Simulator, clock: FakeClock) -> None:
    sim.force_outcome = "Partial"
    order_id = place(sim)
    clock.advance(100)
    assert api(sim, action="refill", order=order_id) == {"refill": "1"}


def test_it_reports_refill_status_over_time(sim: Simulator, clock: FakeClock) -> None:
    order_id = place(sim)
    clock.advance(100)
    refill_id = int(api(sim, action="refill", order=order_id)["refill"])
    assert api(sim, action="refill_status", refill=refill_id) == {"status": "Pending"}
    clock.advance(15)
    assert api(sim, action="refill_status", refill=refill_id) == {"status": "In progress"}
    clock.advance(15)
    assert api(sim, action="refill_status", refill=refill_id) == {"status": "Completed"}
    assert api(sim, action="refill_status", refill=99) == {"error": "Refill not found"}


def test_it_answers_batch_refill_status_with_refills_or_orders(sim: Simulator, clock: FakeClock) -> None:
    order_id = place(sim)
    clock.advance(100)
    refill_id = int(api(sim, action="refill", order=order_id)["refill"])
    expected = [
        {"refill": refill_id, "status": "Pending"},
        {"refill": 3, "status": {"error": "Refill not found"}},
    ]
    assert api(sim, action="refill_status", refills=f"{refill_id},3") == expected
    assert api(sim, action="refill_status", orders=f"{refill_id},3") == expected


def test_it_answers_502_pages_without_processing_the_request(sim: Simulator) -> None:
    sim.faults.html_502 = 2
    for _ in range(2):
        response = requests.post(
            sim.url,
            data={"key": KEY, "action": "add", "service": 1, "link": LINK, "quantity": 300},
            timeout=5,
        )
        assert response.status_code == 502
        assert "text/html" in response.headers["Content-Type"]
        assert "502 Bad Gateway" in response.text
    assert sim.orders == {}
    assert sim.balance == Decimal("1000")
    assert len(sim.calls_for("add")) == 2
    assert place(sim) == 1001


def test_it_creates_the_order_while_stalling_the_add_reply() -> None:
    simulator = Simulator(key=KEY).start()
    try:
        simulator.faults.stall_add = 5
        with pytest.raises(requests.ReadTimeout):
            requests.post(
                simulator.url,
                data={"key": KEY, "action": "add", "service": 1, "link": LINK, "quantity": 300},
                timeout=(2, 0.5),
            )
        assert list(simulator.orders) == [1001]
    finally:
        simulator.stop()


def test_stopping_it_cuts_off_a_stalled_add_reply_instead_of_sending_it_late() -> None:
    simulator = Simulator(key=KEY).start()
    try:
        # Longer than the client waits: only stop() can end this stall before the client gives up.
        simulator.faults.stall_add = 60
        outcome: list[object] = []

        def add() -> None:
            data = {"key": KEY, "action": "add", "service": 1, "link": LINK, "quantity": 300}
            try:
                outcome.append(requests.post(simulator.url, data=data, timeout=(2, 30)).text)
            except requests.RequestException as exc:
                outcome.append(exc)

        client = threading.Thread(target=add)
        client.start()
        for _ in range(1000):  # the order exists before the stall starts
            if simulator.orders:
                break
            time.sleep(0.01)
        assert list(simulator.orders) == [1001]
        simulator.stop()
        client.join()
        # Cut off: the connection closes with no reply. Had the stall gone on, the client would have read the
        # order id after it or timed out waiting.
        (cut_off,) = outcome
        assert isinstance(cut_off, requests.ConnectionError), cut_off
        assert not isinstance(cut_off, requests.Timeout)
    finally:
        simulator.stop()


def test_it_drops_the_connection_after_creating_the_order(sim: Simulator) -> None:
    sim.faults.drop_connection_on_add = True
    with pytest.raises(requests.ConnectionError):
        requests.post(
            sim.url,
            data={"key": KEY, "action": "add", "service": 1, "link": LINK, "quantity": 300},
            timeout=5,
        )
    assert list(sim.orders) == [1001]
    assert api(sim, action="balance")["balance"] == "999.73000"


def test_it_delays_every_reply_by_the_latency(sim: Simulator) -> None:
    sim.faults.latency = 0.3
    with pytest.raises(requests.ReadTimeout):
        requests.post(sim.url, data={"key": KEY, "action": "balance"}, timeout=(2, 0.1))
    assert api(sim, action="balance")["balance"] == "1000.00000"


def test_it_answers_out_of_funds_to_every_add(sim: Simulator) -> None:
    sim.faults.out_of_funds = True
    assert api(sim, action="add", service=1, link=LINK, quantity=300) == {"error": "Not enough funds on balance"}
    assert sim.orders == {}
    assert api(sim, action="balance")["balance"] == "1000.00000"


def test_it_answers_scripted_replies_first_in_first_out(sim: Simulator) -> None:
    sim.script_reply(b'\xef\xbb\xbf{"balance": "1,234.56", "currency": "USD"}')
    sim.script_reply("<html>Checking your browser</html>", status=503, content_type="text/html")
    sim.script_reply("")

    first = requests.post(sim.url, data={"key": KEY, "action": "balance"}, timeout=5)
    assert first.content == b'\xef\xbb\xbf{"balance": "1,234.56", "currency": "USD"}'
    assert first.headers["Content-Type"] == "application/json"
    second = requests.post(sim.url, data={"key": KEY, "action": "add", "service": 1, "link": LINK}, timeout=5)
    assert (second.status_code, second.text) == (503, "<html>Checking your browser</html>")
    assert requests.post(sim.url, data={"key": KEY, "action": "status"}, timeout=5).content == b""
    assert api(sim, action="balance") == {"balance": "1000.00000", "currency": "USD"}
    assert sim.orders == {}
    assert [call.action for call in sim.calls] == ["balance", "add", "status", "balance"]


def test_it_records_every_call(sim: Simulator, clock: FakeClock) -> None:
    api(sim, action="balance")
    clock.advance(7)
    place(sim)
    adds = sim.calls_for("add")
    assert len(adds) == 1
    assert adds[0].params == {"key": KEY, "action": "add", "service": "1", "link": LINK, "quantity": "300"}
    assert adds[0].at == clock.now()
    assert len(sim.calls) == 2


def test_it_records_concurrent_calls(sim: Simulator) -> None:
    threads = [threading.Thread(target=api, args=(sim,), kwargs={"action": "balance"}) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(sim.calls_for("balance")) == 20


def test_it_runs_on_a_sped_up_real_clock() -> None:
    with Simulator(key=KEY, clock=RealClock(speed=100_000)) as simulator:
        order_id = place(simulator)
        time.sleep(0.01)
        assert status(simulator, order_id)["status"] == "Completed"


def test_it_covers_every_service_type_in_the_demo_catalog() -> None:
    types = {service.type for service in demo_catalog()}
    assert types == set(SERVICE_TYPES)


def test_it_generates_a_large_catalog(clock: FakeClock) -> None:
    catalog = generated_catalog(5000)
    assert [service.id for service in catalog] == list(range(1, 5001))
    assert len({service.category for service in catalog}) == 50
    assert len({service.type for service in catalog}) > 5
    assert len({service.rate for service in catalog}) > 1000
    assert generated_catalog(5000) == catalog
    with Simulator(key=KEY, clock=clock, catalog=catalog) as simulator:
        assert len(api(simulator, action="services")) == 5000


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_it_runs_from_the_command_line_until_sigint() -> None:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "upstream.simulator",
        "--port",
        str(port),
        "--key",
        KEY,
        "--services",
        "50",
    ]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        url = f"http://127.0.0.1:{port}/api/v2"
        assert process.stdout.readline() == f"Simulator provider listening on {url}\n"
        reply = requests.post(url, data={"key": KEY, "action": "balance"}, timeout=5).json()
        assert reply == {"balance": "1000.00000", "currency": "USD"}
        assert len(requests.post(url, data={"key": KEY, "action": "services"}, timeout=5).json()) == 50
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=5) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
