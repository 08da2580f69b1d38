"""The API v2 client against the simulator over real HTTP: sloppy replies, and each class of failure."""

import os
import socket
import ssl
import subprocess
import threading
import time
from decimal import Decimal

import pytest
import requests

from tests.conftest import SIMULATOR_KEY
from upstream.client import Ambiguous, ApiClient, NotSent, Rejected
from upstream.protocol import ItemError, OrderState, RefillState
from upstream.simulator import Simulator


@pytest.fixture
def client(simulator: Simulator) -> ApiClient:
    return ApiClient(simulator.url, SIMULATOR_KEY, connect_timeout=2, read_timeout=2)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    ("body", "state", "charge", "start_count", "remains"),
    [
        ('{"charge": "0.27819", "start_count": "3572", "status": "Partial", "remains": "157", "currency": "USD"}',
         OrderState.PARTIAL, Decimal("0.27819"), 3572, 157),
        ('{"charge": 0.27819, "start_count": 3572, "status": "Completed", "remains": 0}',
         OrderState.COMPLETED, Decimal("0.27819"), 3572, 0),
        ('{"charge": "1,234.56", "start_count": "1,234", "status": "In progress", "remains": "10"}',
         OrderState.IN_PROGRESS, Decimal("1234.56"), 1234, 10),
        ('\ufeff{"charge": "1", "start_count": "", "status": "Cancelled", "remains": "Unknown"}',
         OrderState.CANCELED, Decimal(1), None, None),
        ('<br />\n<b>Notice</b>:  Undefined variable: x in <b>/www/api.php</b> on line <b>3</b><br />\n'
         '{"charge": "2", "start_count": null, "status": "in progress", "remains": null}',
         OrderState.IN_PROGRESS, Decimal(2), None, None),
        ('{"charge": "5", "start_count": "0", "status": "Refunded", "remains": "100"}',
         OrderState.CANCELED, Decimal(5), 0, 100),
        ('{"status": "Pending"}', OrderState.PENDING, None, None, None),
        ('{"charge": "", "status": "Fail", "start_count": "", "remains": ""}', None, None, None, None),
    ],
)  # fmt: skip
def test_it_parses_real_world_status_replies(simulator, client, body, state, charge, start_count, remains):
    simulator.script_reply(body, content_type="text/html")
    status = client.status(23501)
    assert (status.state, status.charge, status.start_count, status.remains) == (
        state,
        charge,
        start_count,
        remains,
    )
    assert simulator.calls_for("status")[0].params["order"] == "23501"


@pytest.mark.parametrize(
    ("body", "amount", "currency"),
    [
        ('{"balance": "100.84292", "currency": "USD"}', Decimal("100.84292"), "USD"),
        ('{"balance": 100.84292, "currency": "usd"}', Decimal("100.84292"), "USD"),
        ('{"balance": "1,234.50"}', Decimal("1234.50"), ""),
    ],
)
def test_it_parses_balance_replies(simulator, client, body, amount, currency):
    simulator.script_reply(body)
    assert client.balance().amount == amount
    simulator.script_reply(body)
    assert client.balance().currency == currency


def test_it_reads_the_simulator_catalog(client):
    catalog = client.services()
    assert len(catalog.services) >= 17 and catalog.skipped == []
    by_name = {s.name: s for s in catalog.services}
    assert "Instagramフォロワー" in by_name
    assert {s.type for s in catalog.services} >= {"Default", "Package", "Custom Comments", "Poll", "Mentions"}
    assert all(isinstance(s.rate, Decimal) for s in catalog.services)


def test_it_skips_one_malformed_service_but_keeps_the_others(simulator, client):
    simulator.script_reply(
        '[{"service": 1, "name": "Likes", "type": "Default", "category": "IG", "rate": "0.5", "min": "10",'
        ' "max": "100", "refill": 1, "cancel": "0"},'
        ' {"service": 2, "name": "Broken", "rate": "free", "min": "1", "max": "2"}]'
    )
    catalog = client.services()
    assert [(s.service, s.refill, s.cancel) for s in catalog.services] == [(1, True, False)]
    assert len(catalog.skipped) == 1 and "free" in catalog.skipped[0].reason


@pytest.mark.parametrize("body", ['{"order": 23501}', '{"order": "23501"}', '{"order": 23501.0}'])
def test_it_parses_the_order_id_of_add(simulator, client, body):
    simulator.script_reply(body)
    assert client.add(1, link="https://example.com/p", quantity=100) == 23501


def test_it_places_an_order_exactly_once(simulator, client):
    order_id = client.add(1, link="https://instagram.com/p/abc", quantity=100)
    assert order_id in simulator.orders
    (call,) = simulator.calls_for("add")
    assert call.params["link"] == "https://instagram.com/p/abc" and call.params["quantity"] == "100"


def test_it_classifies_out_of_funds_as_a_retryable_refusal(simulator, client):
    simulator.faults.out_of_funds = True
    with pytest.raises(Rejected) as caught:
        client.add(1, link="https://instagram.com/p/abc", quantity=100)
    assert caught.value.message == "Not enough funds on balance" and caught.value.retryable is True
    assert simulator.orders == {}


def test_it_classifies_a_bad_service_as_a_final_refusal(client):
    with pytest.raises(Rejected) as caught:
        client.add(999999, link="https://instagram.com/p/abc", quantity=100)
    assert caught.value.message == "Incorrect service ID" and caught.value.retryable is False


def test_it_treats_an_error_reply_as_a_refusal_whatever_the_http_code(simulator, client):
    simulator.script_reply('{"error": "Incorrect link"}', status=400)
    with pytest.raises(Rejected, match="Incorrect link"):
        client.add(1, link="nope", quantity=100)


def test_it_reports_a_refused_connection_as_not_sent():
    client = ApiClient(f"http://127.0.0.1:{_closed_port()}/api/v2", SIMULATOR_KEY)
    with pytest.raises(NotSent) as caught:
        client.add(1, link="https://instagram.com/p/abc", quantity=100)
    assert SIMULATOR_KEY not in str(caught.value)


def test_it_reports_a_read_timeout_after_sending_as_ambiguous_and_does_not_resend(simulator):
    simulator.faults.stall_add = 5
    client = ApiClient(simulator.url, SIMULATOR_KEY, connect_timeout=2, read_timeout=0.3)
    with pytest.raises(Ambiguous, match="no answer"):
        client.add(1, link="https://instagram.com/p/abc", quantity=100)
    # The provider did create it: exactly why an ambiguous add must never be retried blindly.
    assert len(simulator.calls_for("add")) == 1 and len(simulator.orders) == 1


def test_it_reports_a_dropped_connection_after_sending_as_ambiguous(simulator, client):
    simulator.faults.drop_connection_on_add = True
    with pytest.raises(Ambiguous):
        client.add(1, link="https://instagram.com/p/abc", quantity=100)
    assert len(simulator.calls_for("add")) == 1


@pytest.mark.parametrize(
    ("status", "body"),
    [(200, ""), (200, "<html><body>Checking your browser…</body></html>"), (500, "Internal Server Error"),
     (302, "")],
)  # fmt: skip
def test_it_reports_non_json_replies_as_ambiguous(simulator, client, status, body):
    simulator.script_reply(body, status=status, content_type="text/html")
    with pytest.raises(Ambiguous):
        client.add(1, link="https://instagram.com/p/abc", quantity=100)


def test_it_reports_an_html_502_page_as_ambiguous(simulator, client):
    simulator.faults.html_502 = 1
    with pytest.raises(Ambiguous, match="HTTP 502"):
        client.add(1, link="https://instagram.com/p/abc", quantity=100)


def test_it_never_reveals_the_key(simulator, client, caplog):
    simulator.script_reply('{"error": "Invalid API key sk-live-0123456789abcdef"}')
    with pytest.raises(Rejected) as caught:
        client.balance()
    assert SIMULATOR_KEY not in str(caught.value) and SIMULATOR_KEY not in repr(caught.value)
    assert caught.value.retryable is True
    assert SIMULATOR_KEY not in repr(client)
    assert SIMULATOR_KEY not in caplog.text


def test_it_tells_its_observer_each_actions_outcome_once(simulator):
    outcomes: list[object] = []
    client = ApiClient(simulator.url, SIMULATOR_KEY, read_timeout=2, on_outcome=outcomes.append)
    client.balance()
    client.status(list(range(1, 250)))  # three calls, one action
    client.status([])  # nothing asked: nothing to tell
    with pytest.raises(Rejected):
        client.add(999, link="https://x.test/a", quantity=100)
    simulator.faults.html_502 = 1
    with pytest.raises(Ambiguous):
        client.services()
    simulator.stop()
    with pytest.raises(NotSent):
        client.refill(1)
    assert [type(o).__name__ for o in outcomes] == ["NoneType", "NoneType", "Rejected", "Ambiguous", "NotSent"]


def test_it_answers_batch_status_with_per_id_errors(simulator, client):
    first = client.add(1, link="https://instagram.com/p/a", quantity=100)
    second = client.add(1, link="https://instagram.com/p/b", quantity=100)
    statuses = client.status([first, 424242, second])
    assert statuses[first].state == OrderState.PENDING
    assert statuses[424242] == ItemError("Incorrect order ID")


def test_it_splits_large_batches_into_calls_of_at_most_100(simulator, client):
    ids = list(range(1, 251))
    statuses = client.status(ids)
    assert len(statuses) == 250
    sent = [call.params["orders"].split(",") for call in simulator.calls_for("status")]
    assert [len(batch) for batch in sent] == [100, 100, 50]


def test_it_reports_an_id_missing_from_a_batch_reply(simulator, client):
    simulator.script_reply('{"1": {"status": "Completed", "remains": "0"}}')
    statuses = client.status([1, 2])
    assert statuses[1].state == OrderState.COMPLETED
    assert statuses[2] == ItemError("no answer for this id")


def test_it_reads_refill_and_cancel_replies(simulator, client):
    simulator.script_reply('{"refill": "1"}')
    assert client.refill(23501) == 1
    simulator.script_reply('[{"order": 1, "refill": 1}, {"order": 3, "refill": {"error": "Incorrect order ID"}}]')
    assert client.refill([1, 3]) == {1: 1, 3: ItemError("Incorrect order ID")}
    simulator.script_reply('{"status": "Completed"}')
    assert client.refill_status(1).state == RefillState.COMPLETED
    simulator.script_reply(
        '[{"refill": 1, "status": "Completed"}, {"refill": 3, "status": {"error": "Refill not found"}}]'
    )
    statuses = client.refill_status([1, 3])
    assert statuses[1].state == RefillState.COMPLETED
    assert statuses[3] == ItemError("Refill not found")
    simulator.script_reply('[{"order": 9, "cancel": {"error": "Incorrect order ID"}}, {"order": 2, "cancel": 1}]')
    assert client.cancel([9, 2]) == {9: ItemError("Incorrect order ID"), 2: True}


def test_it_runs_refills_and_cancels_against_the_simulator(simulator, client):
    simulator.force_outcome = "Completed"
    refillable = next(s for s in simulator.catalog if s.refill and s.type == "Default")
    order_id = client.add(refillable.id, link="https://instagram.com/p/r", quantity=refillable.min)
    simulator.clock.advance(3600)
    assert client.status(order_id).state == OrderState.COMPLETED
    refill_id = client.refill([order_id])[order_id]
    assert isinstance(refill_id, int)
    assert client.refill_status([refill_id])[refill_id].state == RefillState.PENDING
    simulator.clock.advance(3600)
    assert client.refill_status(refill_id).state == RefillState.COMPLETED

    cancelable = next(s for s in simulator.catalog if s.cancel and s.type == "Default")
    to_cancel = client.add(cancelable.id, link="https://instagram.com/p/c", quantity=cancelable.min)
    assert client.cancel([to_cancel, 777777]) == {to_cancel: True, 777777: ItemError("Incorrect order ID")}
    assert client.status(to_cancel).state == OrderState.CANCELED


@pytest.mark.parametrize("body", ['{"order": 777, "error": ""}', '{"order": "777", "error": null}'])
def test_it_takes_an_order_id_beside_an_empty_error_as_success(simulator, client, body):
    simulator.script_reply(body)
    assert client.add(1, link="https://instagram.com/p/abc", quantity=100) == 777


def test_it_takes_an_order_id_as_proof_even_beside_an_error_text(simulator, client):
    simulator.script_reply('{"order": 778, "error": "Notice: duplicate check skipped"}')
    assert client.add(1, link="https://instagram.com/p/abc", quantity=100) == 778


def test_it_reports_a_reply_with_neither_order_nor_error_as_ambiguous(simulator, client):
    simulator.script_reply('{"error": "", "status": "ok"}')
    with pytest.raises(Ambiguous, match="no order id"):
        client.add(1, link="https://instagram.com/p/abc", quantity=100)


def test_it_reports_a_server_error_on_add_as_ambiguous_even_with_an_error_field(simulator, client):
    simulator.script_reply('{"error": "Incorrect service ID"}', status=500)
    with pytest.raises(Ambiguous, match="HTTP 500"):
        client.add(1, link="https://instagram.com/p/abc", quantity=100)


def test_it_keeps_its_own_key_and_action_whatever_the_fields(simulator, client):
    client.add(1, link="https://instagram.com/p/abc", quantity=100, key="other", action="balance")
    (call,) = simulator.calls_for("add")
    assert call.params["key"] == SIMULATOR_KEY


@pytest.fixture
def tls_certificate(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def _tls_server(cert, key, *, corrupt_after_request: bool) -> tuple[int, threading.Thread]:
    """A TLS server that reads one request, then answers with a corrupt TLS record (or just fails)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        with listener:
            conn, _ = listener.accept()
            try:
                with context.wrap_socket(conn, server_side=True) as tls:
                    tls.settimeout(2)
                    received = b""
                    while b"action=add" not in received:
                        received += tls.recv(65536)
                    if corrupt_after_request:
                        with socket.socket(fileno=os.dup(tls.fileno())) as raw:
                            raw.sendall(b"\x17\x03\x03\x00\x20" + os.urandom(32))
                        time.sleep(0.5)
            except (ssl.SSLError, OSError):
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return port, thread


def test_it_reports_a_tls_failure_after_sending_as_ambiguous(tls_certificate):
    port, thread = _tls_server(*tls_certificate, corrupt_after_request=True)
    session = requests.Session()
    session.trust_env = False  # else REQUESTS_CA_BUNDLE from the environment overrides `verify`
    session.verify = str(tls_certificate[0])
    client = ApiClient(f"https://127.0.0.1:{port}/api/v2", SIMULATOR_KEY, read_timeout=2, session=session)
    with pytest.raises(Ambiguous, match="TLS failure"):
        client.add(1, link="https://instagram.com/p/abc", quantity=100)
    thread.join(5)


def test_it_reports_a_refused_certificate_as_not_sent(tls_certificate):
    port, thread = _tls_server(*tls_certificate, corrupt_after_request=False)
    client = ApiClient(f"https://127.0.0.1:{port}/api/v2", SIMULATOR_KEY, read_timeout=2)
    with pytest.raises(NotSent, match="certificate"):
        client.add(1, link="https://instagram.com/p/abc", quantity=100)
    thread.join(5)
