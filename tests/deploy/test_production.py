"""The production topology, checked from outside: Caddy (TLS) in front of gunicorn with production settings,
Postgres, Redis, a Celery worker and one beat (scripts/production_topology.py; `make production-check`)."""

import json
import os
import random
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from production_topology import CADDY, Topology, production_topology

from tests.fuzz.junk import CONTENT_TYPES, form_safe, junk_body, mutated

CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@pytest.fixture(scope="module")
def deployment() -> Iterator[Topology]:
    if not Path(CADDY).exists():
        reason = f"{CADDY} is missing: install the caddy package (.ci/run does)"
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the production check, but {reason}", pytrace=False)
        pytest.skip(reason)
    # The processes' logs stay in test-artifacts/, for a reader of a failed run.
    with production_topology(log_dir=Path(__file__).resolve().parents[2] / "test-artifacts" / "production") as topology:
        yield topology


def _session(deployment: Topology) -> requests.Session:
    session = requests.Session()
    # Caddy's own CA only (an environment's CA bundle would take precedence over session.verify).
    session.trust_env = False
    session.verify = str(deployment.ca_file)
    return session


def _form(session: requests.Session, deployment: Topology, path: str, data: dict[str, str], **headers: str):
    page = session.get(deployment.url + path, timeout=10)
    token = CSRF.search(page.text)
    assert token, f"no CSRF token on {path}"
    return session.post(
        deployment.url + path,
        data={"csrfmiddlewaretoken": token.group(1), **data},
        headers={"Referer": deployment.url + path, **headers},
        allow_redirects=False,
        timeout=10,
    )


def test_it_signs_in_over_https_with_secure_cookies_and_headers(deployment):
    session = _session(deployment)
    page = session.get(deployment.url + "/accounts/login/", timeout=10)
    assert page.status_code == 200
    assert "max-age=31536000" in page.headers["Strict-Transport-Security"]
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    signed_in = _form(session, deployment, "/accounts/login/", {"username": "bob", "password": deployment.password})
    assert signed_in.status_code == 302, signed_in.text[:500]
    cookies = {cookie.name: cookie for cookie in session.cookies}
    assert cookies["sessionid"].secure and cookies["csrftoken"].secure
    assert "HttpOnly" in signed_in.headers["Set-Cookie"]
    assert session.get(deployment.url + "/orders/new/", timeout=10).status_code == 200


def test_a_plain_http_request_to_the_proxy_is_not_served_the_panel(deployment):
    http_url = deployment.url.replace("https://", "http://")
    with pytest.raises(requests.RequestException):
        requests.get(http_url + "/accounts/login/", timeout=5).raise_for_status()


def test_a_client_written_forwarded_for_does_not_change_the_address_counted(deployment):
    # SIGNUP_RATE_LIMIT is 5 per address: six sign-ups, each claiming another address, are still one address.
    answers = []
    for number in range(6):
        answer = _form(
            _session(deployment),
            deployment,
            "/accounts/signup/",
            {"username": f"carol{number}", "email": f"carol{number}@example.com", "password": deployment.password,
             "password_again": deployment.password},
            **{"X-Forwarded-For": f"203.0.113.{number}"},
        )  # fmt: skip
        answers.append(answer.status_code)
    assert answers == [302] * 5 + [429]


def test_an_order_placed_through_the_proxy_is_forwarded_by_the_worker(deployment):
    service_id = deployment.sql("SELECT id FROM catalog_service WHERE type = 'Default' AND is_active ORDER BY id")[0][0]
    params = {"key": deployment.api_key, "action": "add", "service": str(service_id),
              "link": "https://instagram.com/p/production", "quantity": "100"}  # fmt: skip
    answer = _session(deployment).post(deployment.url + "/api/v2", data=params, timeout=10).json()
    assert "order" in answer, answer
    deadline = time.monotonic() + 60
    submission = ""
    while time.monotonic() < deadline:
        submission, upstream_id = deployment.sql(
            "SELECT submission, upstream_id FROM orders_order WHERE id = %s", answer["order"]
        )[0]
        if submission == "sent":
            break
        time.sleep(0.5)
    assert submission == "sent" and upstream_id is not None
    assert "Every wallet matches its ledger." in deployment.manage("check_ledger")


DEPLOYED_FUZZ_REQUESTS = 1000  # per seed: through TLS and gunicorn each costs more than the in-process fuzz's


def test_hostile_api_requests_through_the_proxy_log_no_error(deployment, fuzz_seed):
    """tests/fuzz/test_api_v2.py's kinds of junk, sent as a real client sends them to the real stack: the bodies
    reach gunicorn's stream, not the test client's. Every answer is HTTP 200 JSON, and gunicorn logs no error."""
    rnd = random.Random(fuzz_seed)
    web_log = deployment.log_dir / "web.log"
    log_start = web_log.stat().st_size
    service_id = deployment.sql("SELECT id FROM catalog_service WHERE type = 'Default' AND is_active ORDER BY id")[0][0]
    orders_before = deployment.sql("SELECT count(*) FROM orders_order")[0][0]
    session, placed = _session(deployment), 0
    for index in range(DEPLOYED_FUZZ_REQUESTS):
        action = rnd.choice(["add", "status", "balance", "cancel"])
        valid = {"key": deployment.api_key, "action": action, "service": service_id,
                 "link": "https://instagram.com/p/fuzz", "quantity": 100, "order": 1}  # fmt: skip
        params = mutated(rnd, valid, list(valid))
        encoding = rnd.choice(["form", "multipart", "json", "bytes"])
        url = deployment.url + "/api/v2"
        if encoding == "form":
            answer = session.post(url, data=form_safe(params), timeout=10)
        elif encoding == "multipart":
            answer = session.post(url, files={name: (None, value) for name, value in form_safe(params).items()})
        elif encoding == "json":
            body = json.dumps(params, default=str)
            answer = session.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=10)
        else:
            # Within Caddy's max_header_size (the test below goes past it).
            query = urlencode(form_safe({"key": params.get("key", ""), "action": params.get("action", "")}))[:16_000]
            headers = {"Content-Type": rnd.choice(CONTENT_TYPES)}
            answer = session.post(f"{url}?{query}", data=junk_body(rnd), headers=headers, timeout=10)
        replay = f"seed {fuzz_seed}, request {index} ({encoding}): {params!r}"[:2000]
        assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("application/json"), replay
        placed += "order" in answer.json() and params.get("action") == "add"
    logged = web_log.read_bytes()[log_start:].decode(errors="replace")
    assert not re.search(r"\b(ERROR|CRITICAL)\b|Traceback", logged), logged[-3000:]
    assert deployment.sql("SELECT count(*) FROM orders_order")[0][0] == orders_before + placed
    assert "Every wallet matches its ledger." in deployment.manage("check_ledger")


# The panel's own answer to a made-up key: the hostile requests above may have spent the address's failed keys.
PANEL_REFUSALS = [{"error": "Invalid API key"}, {"error": "Too many requests"}]


def test_a_request_line_past_the_proxys_limit_is_refused_by_the_proxy_not_cut_off(deployment):
    url = f"{deployment.url}/api/v2?{urlencode({'key': 'k' * 100_000, 'action': 'balance'})}"
    assert _session(deployment).post(url, data=b"x" * 100_000, timeout=10).status_code == 431
    long_but_allowed = f"{deployment.url}/api/v2?{urlencode({'key': 'k' * 20_000, 'action': 'balance'})}"
    answer = _session(deployment).post(long_but_allowed, timeout=10)
    assert answer.status_code == 200 and answer.json() in PANEL_REFUSALS
    # A header of 20 KB and 300 headers: past gunicorn's defaults (8 KiB, 100), within Caddy's 64 KiB.
    headers = {"X-Long": "h" * 20_000, **{f"X-Many-{n}": "1" for n in range(300)}}
    answer = _session(deployment).post(f"{deployment.url}/api/v2", data={"action": "balance"}, headers=headers)
    assert answer.status_code == 200 and answer.json() in PANEL_REFUSALS
