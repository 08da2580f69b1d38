"""The simulator's HTTP side: serves a Provider at /api/v2 and injects the transport faults tests ask for."""

import json
import threading
from collections import deque
from dataclasses import dataclass
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import cast
from urllib.parse import parse_qsl, urlsplit

from .catalog import SimService, demo_catalog
from .clock import Clock, RealClock
from .provider import Provider
from .state import Call, Timing

API_PATHS = ("/api/v2", "/api/v2/")

_BAD_GATEWAY_PAGE = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
_NOT_FOUND_PAGE = (
    "<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n"
    "<center><h1>404 Not Found</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


@dataclass(frozen=True)
class Reply:
    body: bytes
    status: int = 200
    content_type: str = "application/json; charset=utf-8"


def _html(page: str, status: int) -> Reply:
    return Reply(page.encode(), status=status, content_type="text/html")


class Simulator(Provider):
    """A fake upstream provider speaking API v2 over real HTTP, with knobs for the failures real ones show."""

    def __init__(
        self,
        *,
        key: str,
        catalog: list[SimService] | None = None,
        clock: Clock | None = None,
        balance: Decimal = Decimal("1000"),
        currency: str = "USD",
        host: str = "127.0.0.1",
        port: int = 0,
        pending_seconds: float = 10.0,
        delivery_seconds: float = 60.0,
        refill_seconds: float = 30.0,
    ) -> None:
        super().__init__(
            key=key,
            catalog=demo_catalog() if catalog is None else catalog,
            clock=RealClock() if clock is None else clock,
            balance=balance,
            currency=currency,
            timing=Timing(pending=pending_seconds, delivery=delivery_seconds, refill=refill_seconds),
        )
        self.host = host
        self.port = port
        self.calls: list[Call] = []
        self._scripted: deque[Reply] = deque()
        self._stopping = threading.Event()
        self._server: _HTTPServer | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("Simulator is not started")
        return f"http://{self.host}:{self.port}/api/v2"

    def start(self) -> "Simulator":
        self._stopping.clear()
        self._server = _HTTPServer((self.host, self.port), self)
        self.port = self._server.server_address[1]
        # A short poll interval keeps stop() prompt.
        thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def serve_forever(self) -> None:
        if self._server is None:
            self.start()
        self._stopping.wait()

    def __enter__(self) -> "Simulator":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def calls_for(self, action: str) -> list[Call]:
        with self.lock:
            return [call for call in self.calls if call.action == action]

    def script_reply(self, body: bytes | str, *, status: int = 200, content_type: str = "application/json") -> None:
        raw = body.encode() if isinstance(body, str) else body
        with self.lock:
            self._scripted.append(Reply(raw, status=status, content_type=content_type))

    def respond(self, params: dict[str, str]) -> Reply | None:
        """The reply to one API request, or None to drop the connection without a word."""
        action = params.get("action", "")
        with self.lock:
            self.calls.append(Call(action=action, params=dict(params), at=self.clock.now()))
            scripted = self._scripted.popleft() if self._scripted else None
            bad_gateway = scripted is None and self.faults.html_502 > 0
            if bad_gateway:
                self.faults.html_502 -= 1
        if self.faults.latency > 0 and self._stopping.wait(self.faults.latency):
            return None
        if scripted is not None:
            return scripted
        if bad_gateway:
            return _html(_BAD_GATEWAY_PAGE, 502)
        body = json.dumps(self.answer(params), ensure_ascii=False).encode()
        if action == "add":
            if self.faults.drop_connection_on_add:
                return None
            if self.faults.stall_add > 0 and self._stopping.wait(self.faults.stall_add):
                return None
        return Reply(body)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    # The default backlog of 5 makes bursts of concurrent clients wait a second for a SYN retry.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], simulator: Simulator) -> None:
        super().__init__(address, _Handler)
        self.simulator = simulator


class _Handler(BaseHTTPRequestHandler):
    def version_string(self) -> str:
        return "nginx"

    def do_GET(self) -> None:
        self._serve(b"")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self._serve(self.rfile.read(length) if length > 0 else b"")

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _serve(self, body: bytes) -> None:
        url = urlsplit(self.path)
        if url.path not in API_PATHS:
            self._send(_html(_NOT_FOUND_PAGE, 404))
            return
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        if "x-www-form-urlencoded" in self.headers.get("Content-Type", "") or not self.headers.get("Content-Type"):
            params.update(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))
        reply = cast(_HTTPServer, self.server).simulator.respond(params)
        if reply is None:
            self.close_connection = True
            return
        self._send(reply)

    def _send(self, reply: Reply) -> None:
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
