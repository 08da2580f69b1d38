"""A fake Cryptomus on loopback, speaking the documented merchant API over real HTTP (doc.cryptomus.com).

- `POST /v1/payment` and `POST /v1/payment/info` check the `merchant` and `sign` headers as Cryptomus does
  (`md5(base64(body) + payment key)` over the raw body) and answer `{"state": 0, "result": invoice}`, or
  `{"state": 1, ...}` with an HTTP error. A known `order_id` gets its existing invoice back, as documented.
- Each invoice has a hosted page at its `url`: `GET /pay/<uuid>` shows the amount and a Pay button; `POST` pays
  it, sends the signed webhook to the invoice's `url_callback`, and redirects (303) to its `url_success`.
- Webhooks are encoded and signed the way Cryptomus' PHP does: json_encode(data, JSON_UNESCAPED_UNICODE), "/"
  escaped as "\\/", `sign` appended last. This module signs on its own, never with the panel's code.

Tests drive the rest by hand: `set_status`, `send_webhook` (with another key, a wrong sign or none).
"""

import base64
import hashlib
import hmac
import html
import json
import re
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import urlsplit

import requests

ORDER_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
AMOUNT = re.compile(r"\d+(\.\d+)?")
FINAL = frozenset({"paid", "paid_over", "wrong_amount", "fail", "cancel", "system_fail", "refund_paid", "refund_fail"})


def sign_of(body: bytes, key: str) -> str:
    return hashlib.md5(base64.b64encode(body) + key.encode()).hexdigest()  # noqa: S324


def php_encode(data: Any) -> bytes:
    """PHP's json_encode(data, JSON_UNESCAPED_UNICODE) for the strings, numbers and nulls of a webhook."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("/", "\\/").encode()


@dataclass
class Invoice:
    uuid: str
    order_id: str
    amount: str
    currency: str
    url: str
    url_callback: str
    url_success: str
    url_return: str
    lifetime: int
    status: str = "check"
    additional_data: str | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def as_result(self) -> dict[str, Any]:
        """The invoice as "Creating an invoice" and "Payment information" answer it."""
        paid = self.status in ("paid", "paid_over", "refund_paid")
        return {
            "uuid": self.uuid,
            "order_id": self.order_id,
            "amount": self.amount,
            "payment_amount": self.amount if paid else None,
            "payer_amount": None,
            "discount_percent": None,
            "discount": "0.00000000",
            "payer_currency": "USDT" if paid else None,
            "currency": self.currency,
            "merchant_amount": None,
            "network": "tron" if paid else None,
            "address": None,
            "from": None,
            "txid": None,
            "payment_status": self.status,
            "url": self.url,
            "expired_at": int(self.created_at.timestamp()) + self.lifetime,
            "status": self.status,
            "is_final": self.status in FINAL,
            "additional_data": self.additional_data,
            "created_at": self.created_at.isoformat(timespec="seconds"),
            "updated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }

    def webhook_data(self) -> dict[str, Any]:
        """The webhook's fields in the order "Webhook" lists them (amounts with eight decimals, as it shows)."""
        paid = self.status in ("paid", "paid_over", "refund_paid")
        amount = f"{Decimal(self.amount):.8f}"
        return {
            "type": "payment",
            "uuid": self.uuid,
            "order_id": self.order_id,
            "amount": amount,
            "payment_amount": amount if paid else "0.00000000",
            "payment_amount_usd": self.amount if paid else "0.00",
            "merchant_amount": amount if paid else "0.00000000",
            "commission": "0.00000000",
            "is_final": self.status in FINAL,
            "status": self.status,
            "from": "THgEWubVc8tPKXLJ4VZ5zbiiAK7AgqSeGH" if paid else None,
            "wallet_address_uuid": None,
            "network": "tron",
            "currency": self.currency,
            "payer_currency": "USDT",
            "additional_data": self.additional_data,
            "txid": "6f0d9c8374db57cac0d806251473de754f361c83a03cd805f74aa9da3193486b" if paid else None,
        }


@dataclass(frozen=True)
class Call:
    path: str
    body: dict[str, Any]


@dataclass(frozen=True)
class Delivery:
    """A webhook sent and what the panel answered (status 0: the connection failed)."""

    invoice: str
    body: bytes
    status: int


class FakeCryptomus:
    """Cryptomus for one merchant and its payment key, served on loopback while started."""

    def __init__(self, *, merchant: str, key: str, host: str = "127.0.0.1", port: int = 0) -> None:
        self.merchant = merchant
        self.key = key
        self.host = host
        self.port = port
        self.invoices: dict[str, Invoice] = {}
        self.calls: list[Call] = []
        self.deliveries: list[Delivery] = []
        # Whether paying on the page sends the webhook (False: a webhook lost on the way).
        self.send_webhooks = True
        self.lock = threading.Lock()
        self._server: _HTTPServer | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeCryptomus is not started")
        return f"http://{self.host}:{self.port}"

    def start(self) -> "FakeCryptomus":
        self._server = _HTTPServer((self.host, self.port), self)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def __enter__(self) -> "FakeCryptomus":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # Test hooks ---------------------------------------------------------------------------------------------

    def calls_to(self, path: str) -> list[Call]:
        with self.lock:
            return [call for call in self.calls if call.path == path]

    def set_status(self, invoice_uuid: str, status: str) -> Invoice:
        with self.lock:
            invoice = self.invoices[invoice_uuid]
            invoice.status = status
            return invoice

    def webhook_body(self, invoice_uuid: str, *, key: str | None = None, sign: str | None = "", **fields: Any) -> bytes:
        """The invoice's webhook body, `fields` replacing some of its data; signed with `key` (the merchant's by
        default), or carrying `sign` as given when it is not "" (None: no sign at all)."""
        with self.lock:
            data = self.invoices[invoice_uuid].webhook_data()
        data.update(fields)
        if sign is None:
            return php_encode(data)
        data["sign"] = sign or sign_of(php_encode(data), key or self.key)
        return php_encode(data)

    def send_webhook(self, invoice_uuid: str, **options: Any) -> int:
        """POST the invoice's webhook (see webhook_body) to its url_callback; the HTTP status the panel answered."""
        body = self.webhook_body(invoice_uuid, **options)
        callback = self.invoices[invoice_uuid].url_callback
        try:
            status = requests.post(callback, data=body, headers={"Content-Type": "application/json"}, timeout=30)
            answered = status.status_code
        except requests.RequestException:
            answered = 0
        with self.lock:
            self.deliveries.append(Delivery(invoice=invoice_uuid, body=body, status=answered))
        return answered

    # The API ------------------------------------------------------------------------------------------------

    def api(self, path: str, headers: Mapping[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        if headers.get("merchant") != self.merchant or not hmac.compare_digest(
            headers.get("sign", ""), sign_of(body, self.key)
        ):
            return 401, {"state": 1, "message": "Invalid Sign."}
        try:
            params = json.loads(body or b"{}")
        except ValueError:
            return 422, {"state": 1, "message": "Invalid JSON"}
        if not isinstance(params, dict):
            return 422, {"state": 1, "message": "Invalid JSON"}
        with self.lock:
            self.calls.append(Call(path=path, body=params))
        if path == "/v1/payment":
            return self._create(params)
        if path == "/v1/payment/info":
            return self._info(params)
        return 404, {"state": 1, "message": "Not found"}

    def _create(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        errors: dict[str, list[str]] = {}
        amount, currency, order_id = params.get("amount"), params.get("currency"), params.get("order_id")
        if not isinstance(amount, str) or not AMOUNT.fullmatch(amount):
            errors["amount"] = ["validation.string"]
        if not isinstance(currency, str) or not currency:
            errors["currency"] = ["validation.required"]
        if not isinstance(order_id, str) or not ORDER_ID.fullmatch(order_id):
            errors["order_id"] = ["validation.alpha_dash"]
        lifetime = params.get("lifetime", 3600)
        if not isinstance(lifetime, int) or not 300 <= lifetime <= 43200:
            errors["lifetime"] = ["validation.between.numeric"]
        for name in ("url_return", "url_success", "url_callback"):
            value = params.get(name)
            if value is not None and (not isinstance(value, str) or not 6 <= len(value) <= 255):
                errors[name] = ["validation.url"]
        if errors:
            return 422, {"state": 1, "errors": errors}
        assert isinstance(amount, str) and isinstance(currency, str) and isinstance(order_id, str)
        with self.lock:
            for invoice in self.invoices.values():
                if invoice.order_id == order_id:
                    return 200, {"state": 0, "result": invoice.as_result()}
            reference = str(uuid.uuid4())
            invoice = Invoice(
                uuid=reference, order_id=order_id, amount=f"{_decimal(amount):.2f}", currency=currency,
                url=f"{self.url}/pay/{reference}", url_callback=params.get("url_callback") or "",
                url_success=params.get("url_success") or "", url_return=params.get("url_return") or "",
                lifetime=lifetime, additional_data=params.get("additional_data"),
            )  # fmt: skip
            self.invoices[reference] = invoice
            return 200, {"state": 0, "result": invoice.as_result()}

    def _info(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        reference, order_id = params.get("uuid"), params.get("order_id")
        if not reference and not order_id:
            errors = {"uuid": ["validation.required_without"], "order_id": ["validation.required_without"]}
            return 422, {"state": 1, "errors": errors}
        with self.lock:
            # Given both, Cryptomus finds the invoice by order_id.
            found = [i for i in self.invoices.values() if (i.order_id == order_id if order_id else i.uuid == reference)]
            if not found:
                return 404, {"state": 1, "message": "Not found"}
            return 200, {"state": 0, "result": found[0].as_result()}

    # The hosted page ----------------------------------------------------------------------------------------

    def page(self, invoice_uuid: str) -> str | None:
        with self.lock:
            invoice = self.invoices.get(invoice_uuid)
            if invoice is None:
                return None
            amount, currency, status = invoice.amount, invoice.currency, invoice.status
        return (
            "<!doctype html><html><head><title>Cryptomus</title></head><body>"
            f"<h1>Pay {html.escape(amount)} {html.escape(currency)}</h1><p>Status: {html.escape(status)}</p>"
            f'<form method="post" action="/pay/{html.escape(invoice_uuid)}"><button type="submit">Pay</button></form>'
            "</body></html>"
        )

    def pay(self, invoice_uuid: str) -> str | None:
        """The customer pays the invoice in full: it is paid, its webhook goes out; where the page sends them."""
        with self.lock:
            invoice = self.invoices.get(invoice_uuid)
            if invoice is None:
                return None
            invoice.status = "paid"
            success = invoice.url_success
        if self.send_webhooks:
            self.send_webhook(invoice_uuid)
        return success


def _decimal(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:
        return Decimal(0)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], fake: FakeCryptomus) -> None:
        super().__init__(address, _Handler)
        self.fake = fake


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    @property
    def fake(self) -> FakeCryptomus:
        return cast(_HTTPServer, self.server).fake

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == "/favicon.ico":
            # What a browser asks for on the pay page: nothing to show, and no error either.
            self._send(204, b"", "image/x-icon")
            return
        page = self.fake.page(path.removeprefix("/pay/")) if path.startswith("/pay/") else None
        if page is None:
            self._send(404, b"Not found", "text/plain")
            return
        self._send(200, page.encode(), "text/html; charset=utf-8")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        path = urlsplit(self.path).path
        if path.startswith("/pay/"):
            success = self.fake.pay(path.removeprefix("/pay/"))
            if success is None:
                self._send(404, b"Not found", "text/plain")
                return
            self.send_response(303)
            self.send_header("Location", success)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        headers = {name.lower(): value for name, value in self.headers.items()}
        status, answer = self.fake.api(path, headers, body)
        self._send(status, json.dumps(answer).encode(), "application/json")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
