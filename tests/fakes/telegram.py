"""A fake Telegram Bot API on loopback, over real HTTP (core.telegram.org/bots/api).

`POST /bot<token>/sendMessage` with `chat_id` and `text` (JSON, or a form, as the Bot API accepts both) answers
`{"ok": true, "result": <Message>}` and records the message; a wrong token gets HTTP 401 and
`{"ok": false, "error_code": 401, "description": "Unauthorized"}`, a request without chat_id or text HTTP 400, as
Telegram answers them.
"""

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import parse_qsl


@dataclass(frozen=True)
class Message:
    chat_id: str
    text: str
    params: dict[str, Any]


class FakeTelegram:
    """One bot, known by its token; `messages` holds what it was asked to send, in order."""

    def __init__(self, *, token: str, host: str = "127.0.0.1") -> None:
        self.token = token
        self.host = host
        self.port = 0
        self.messages: list[Message] = []
        self.lock = threading.Lock()
        self._server: _HTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> "FakeTelegram":
        self._server = _HTTPServer((self.host, self.port), self)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def __enter__(self) -> "FakeTelegram":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def answer(self, path: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        token, _, method = path.removeprefix("/bot").partition("/")
        if not path.startswith("/bot") or token != self.token:
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        if method != "sendMessage":
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        chat_id, text = str(params.get("chat_id") or ""), str(params.get("text") or "")
        if not chat_id:
            return 400, {"ok": False, "error_code": 400, "description": "Bad Request: chat_id is empty"}
        if not text:
            return 400, {"ok": False, "error_code": 400, "description": "Bad Request: message text is empty"}
        with self.lock:
            self.messages.append(Message(chat_id=chat_id, text=text, params=dict(params)))
            message_id = len(self.messages)
        bot = self.token.partition(":")[0]
        result = {
            "message_id": message_id,
            "from": {
                "id": int(bot) if bot.isdigit() else 0,
                "is_bot": True,
                "first_name": "Panel",
                "username": "panel_bot",
            },
            "chat": {"id": int(chat_id) if chat_id.lstrip("-").isdigit() else chat_id, "type": "group"},
            "date": int(time.time()),
            "text": text,
        }
        return 200, {"ok": True, "result": result}


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], bot: FakeTelegram) -> None:
        super().__init__(address, _Handler)
        self.bot = bot


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        params: dict[str, Any] = {}
        if self.headers.get("Content-Type", "").startswith("application/json"):
            try:
                loaded = json.loads(body or b"{}")
            except ValueError:
                loaded = None
            if not isinstance(loaded, dict):
                self._send(400, {"ok": False, "error_code": 400, "description": "Bad Request: invalid JSON"})
                return
            params = loaded
        else:
            params = dict(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))
        status, answer = cast(_HTTPServer, self.server).bot.answer(self.path.partition("?")[0], params)
        self._send(status, answer)

    def _send(self, status: int, answer: dict[str, Any]) -> None:
        body = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
