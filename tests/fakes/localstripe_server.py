"""localstripe (a fake Stripe API server) as the tests run it: `python -m tests.fakes.localstripe_server --port N`.

localstripe alone does not speak what our SDK and Stripe.js send, so this adds, in front of its own handlers:

- Confirming a PaymentIntent the way Stripe.js does: `POST /v1/payment_intents/{id}/confirm` authenticated by the
  publishable key (`key=pk_...`) and the PaymentIntent's `client_secret`, with the card in `payment_method_data`
  (form or JSON). localstripe needs the secret key for a confirm and refuses a payment method given with it (500
  "Not implemented"); here the PaymentMethod is created and the PaymentIntent confirmed as Stripe does, by
  localstripe's own resource classes (so the charge, its failures and the webhooks are localstripe's). A
  `payment_method` id is taken as well, so tests can confirm server-side with the secret key.
- `allowed_payment_method_types` on creating a PaymentIntent: the API version our SDK pins (2026-10-28.endive)
  no longer takes `payment_method_types`, which is all that localstripe knows, so it is passed on under that name.
- A stand-in Stripe.js at `GET /standin/v3/` (tests/fakes/stripe_js_standin.js): the Payment Element as plain
  inputs, and confirmPayment posting the confirm above to this server.

The store lives in memory only (localstripe would pickle it to /tmp/localstripe.pickle after every write, a file
shared by every localstripe on the machine), and each start is from scratch.
"""

import argparse
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web
from localstripe import server  # type: ignore[import-untyped]
from localstripe.errors import UserError  # type: ignore[import-untyped]
from localstripe.resources import PaymentIntent, PaymentMethod, store  # type: ignore[import-untyped]

STANDIN_JS = Path(__file__).with_name("stripe_js_standin.js")
STANDIN_PATH = "/standin/v3/"
CONFIRM_PATH = "/v1/payment_intents/{id}/confirm"
# What Stripe.js adds to its calls besides the parameters: localstripe's own handlers drop the same.
CLIENT_ONLY = ("key", "payment_user_agent", "referrer", "return_url", "expand", "use_stripe_sdk")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _json(data: dict[str, Any]) -> web.StreamResponse:
    return web.json_response(data)


def _publishable_key(data: dict[str, Any]) -> bool:
    key = data.get("key")
    return isinstance(key, str) and key.startswith("pk_") and len(key) > 3


async def _confirm(request: web.Request, intent_id: str) -> web.StreamResponse:
    data: dict[str, Any] = await server.get_post_data(request, remove_auth=False) or {}
    if server.get_api_key(request) is None:
        # Without the secret key Stripe takes the publishable key with the PaymentIntent's client secret.
        if not _publishable_key(data):
            raise UserError(401, "Unauthorized")
        intent = PaymentIntent._api_retrieve(intent_id)
        if data.get("client_secret") != intent.client_secret:
            raise UserError(401, "The client_secret does not match this PaymentIntent.")
    data.pop("client_secret", None)
    for name in CLIENT_ONLY:
        data.pop(name, None)
    method_data = data.pop("payment_method_data", None)
    method_id = data.pop("payment_method", None)
    if data:
        raise UserError(400, "Unexpected " + ", ".join(data))
    intent = PaymentIntent._api_retrieve(intent_id)
    if intent.status not in ("requires_payment_method", "requires_confirmation"):
        raise UserError(400, f"This PaymentIntent's status is {intent.status}: it cannot be confirmed.")
    if isinstance(method_data, dict):
        method_id = PaymentMethod(**method_data).id
    if method_id is not None:
        PaymentMethod._api_retrieve(method_id)  # 404 for one that does not exist
        intent.payment_method = method_id
        # A new attempt after a declined one: localstripe would read the old failed charge as the state forever.
        intent.latest_charge = None
    if intent.status != "requires_confirmation":
        raise UserError(400, "Give payment_method or payment_method_data to confirm this PaymentIntent.")
    intent._confirm(on_failure_now=intent._report_failure)
    return _json(intent._export())


async def _create_intent(request: web.Request) -> web.StreamResponse:
    if server.get_api_key(request) is None:
        raise UserError(401, "Unauthorized")
    data: dict[str, Any] = await server.get_post_data(request) or {}
    data["payment_method_types"] = data.pop("allowed_payment_method_types")
    return _json(PaymentIntent._api_create(**data)._export())


@web.middleware
async def stripe_js_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """What Stripe.js and our SDK's API version send that localstripe's handlers refuse (see the module's doc)."""
    if request.method == "GET" and request.path == STANDIN_PATH:
        # Here, not as a route: localstripe's authentication would ask a script request for a secret key.
        return web.Response(text=STANDIN_JS.read_text(), content_type="application/javascript")
    if request.method == "POST":
        resource = request.match_info.route.resource
        if resource is not None and resource.canonical == CONFIRM_PATH:
            return await _confirm(request, request.match_info["id"])
        if request.path == "/v1/payment_intents":
            data = await server.get_post_data(request, remove_auth=False) or {}
            if "allowed_payment_method_types" in data:
                return await _create_intent(request)
    return await handler(request)


def app() -> web.Application:
    """localstripe's application with the additions above (an application is set up once, before it runs)."""
    application: web.Application = server.app
    store.dump_to_disk = lambda: None
    store.clear()
    auth = next(i for i, m in enumerate(application.middlewares) if m is server.auth_middleware)
    application.middlewares.insert(auth, stripe_js_middleware)
    return application


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    web.run_app(app(), host=args.host, port=args.port, access_log=logging.getLogger("aiohttp.access"), print=None)


if __name__ == "__main__":
    main()
