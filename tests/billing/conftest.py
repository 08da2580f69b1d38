"""The fake gateways the billing tests pay against, real servers on loopback: localstripe (as
tests/fakes/localstripe_server.py runs it, a process of its own) and the fake Cryptomus (tests/fakes/cryptomus.py)."""

import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from tests.factories import CRYPTOMUS_MERCHANT_ID, CRYPTOMUS_PAYMENT_KEY
from tests.fakes.cryptomus import FakeCryptomus

REPOSITORY = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 15


@dataclass
class LocalStripe:
    url: str
    webhook_ids: set[str] = field(default_factory=set)

    def register_webhook(self, url: str, secret: str, webhook_id: str = "panel") -> None:
        """Have localstripe sign every event with `secret` and post it to `url` (a second or so after it happens)."""
        answer = requests.post(
            f"{self.url}/_config/webhooks/{webhook_id}", data={"url": url, "secret": secret}, timeout=5
        )
        answer.raise_for_status()
        self.webhook_ids.add(webhook_id)

    def flush(self) -> None:
        """Forget every object and stop every webhook. localstripe cannot delete a webhook: one that listens to
        no event type (an empty list, which only a JSON body can say) sends nothing."""
        requests.delete(f"{self.url}/_config/data", timeout=5).raise_for_status()
        for webhook_id in self.webhook_ids:
            requests.post(
                f"{self.url}/_config/webhooks/{webhook_id}",
                json={"url": "http://127.0.0.1:9/", "secret": "whsec_none", "events": []},
                timeout=5,
            ).raise_for_status()
        self.webhook_ids.clear()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_until_it_answers(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"localstripe exited ({process.returncode}):\n{log.read_text()[-2000:]}")
        try:
            if requests.get(f"{url}/standin/v3/", timeout=1).ok:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"localstripe did not answer within {STARTUP_SECONDS} s:\n{log.read_text()[-2000:]}")


@pytest.fixture(scope="session")
def localstripe() -> Iterator[LocalStripe]:
    """localstripe on a free port for the whole session (its log in a temporary file, shown when it fails)."""
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="localstripe-") as directory:
        log = Path(directory) / "localstripe.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                [sys.executable, "-m", "tests.fakes.localstripe_server", "--port", str(port)],
                cwd=REPOSITORY, stdout=output, stderr=subprocess.STDOUT,
            )  # fmt: skip
            try:
                server = LocalStripe(url=f"http://127.0.0.1:{port}")
                _wait_until_it_answers(server.url, process, log)
                yield server
            finally:
                process.terminate()
                try:
                    process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


@pytest.fixture
def stripe_settings(settings, localstripe: LocalStripe) -> LocalStripe:
    """The Stripe SDK pointed at an emptied localstripe with no webhook; returns the localstripe."""
    localstripe.flush()
    settings.STRIPE_API_BASE = localstripe.url
    return localstripe


# Cryptomus ------------------------------------------------------------------------------------------------------


@pytest.fixture
def cryptomus(settings) -> Iterator[FakeCryptomus]:
    """A fake Cryptomus on a free port, for CryptomusMethodFactory's merchant and payment key, as the panel's
    Cryptomus API."""
    with FakeCryptomus(merchant=CRYPTOMUS_MERCHANT_ID, key=CRYPTOMUS_PAYMENT_KEY) as fake:
        settings.CRYPTOMUS_API_BASE = fake.url
        yield fake
