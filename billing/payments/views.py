"""Gateways' notifications: verified by the gateway module, applied by billing.payments.services."""

import logging

from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from billing.payments import GATEWAY_CLASSES, gateway_class
from billing.payments.base import Notification
from billing.payments.services import notification_receive
from panel.ratelimit import client_address

logger = logging.getLogger(__name__)
# Gateways' notifications are a few kilobytes; anything far larger is not one.
MAX_NOTIFICATION_BYTES = 256 * 1024


@csrf_exempt  # a gateway has no session: the notification's signature is what authenticates it
@require_POST
def webhook(request: HttpRequest, gateway: str) -> HttpResponse:
    """Answer 2xx once the notification is handled (or is one we will never act on: not ours, not what we asked
    for), 400 when no method's credentials verify it, and let a database failure answer 500 so that the gateway
    sends it again."""
    if gateway not in GATEWAY_CLASSES:
        # Answered here: raising Http404 would have the 404 page run the CSRF check, which reads (and may fail
        # on) a body this view never parses.
        return HttpResponseNotFound("no such gateway", content_type="text/plain")
    length = request.META.get("CONTENT_LENGTH") or "0"
    if not length.isdigit() or int(length) > MAX_NOTIFICATION_BYTES:
        logger.info("%s notification refused: %s bytes", gateway, length[:20])
        return HttpResponse(status=413)
    notification = Notification(
        body=request.body,
        headers={name.lower(): value for name, value in request.headers.items()},
        remote_address=client_address(request),
    )
    if notification_receive(gateway=gateway, notification=notification) is None:
        return HttpResponse("signature does not verify", status=400, content_type="text/plain")
    status, body = gateway_class(gateway).webhook_accepted()
    return HttpResponse(body, status=status, content_type="text/plain")
