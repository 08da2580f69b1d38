"""Alerts to operators, once per incident: raised where the incident happens, sent after commit by a Celery task
(email to OPERATOR_EMAILS, and a Telegram bot's message when it is configured), resolved when the incident ends.

An alert's key names its incident (`order-unknown:42`): while an alert with that key is open a second one is
never created, so a condition seen on every poll cycle is told once; resolving it lets the next incident through.
"""

import logging
from collections.abc import Callable, Iterable
from datetime import timedelta

import requests
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from backoffice.models import Alert

logger = logging.getLogger(__name__)

Kind = Alert.Kind
TELEGRAM_TIMEOUT = 10
# Telegram refuses longer messages.
TELEGRAM_MAX_TEXT = 4096
# An alert whose sending failed (or whose task was lost between commit and the broker) is sent again by the
# periodic sweep while it is younger than this.
RESEND_WINDOW = timedelta(hours=1)


class ChannelError(Exception):
    """A channel did not take the alert; the message never contains the bot token."""


def admin_link(name: str, *args: object, query: str = "") -> str:
    """The address of an admin page (`admin:orders_order_change`), absolute when PANEL_BASE_URL is set."""
    path = reverse(f"admin:{name}", args=args) + (f"?{query}" if query else "")
    return f"{settings.PANEL_BASE_URL}{path}"


def alert_raise(*, kind: str, key: str, subject: str, body: str, url: str) -> bool:
    """Record the incident `key` and send it to operators after commit; False when its alert is already open."""
    return bool(alerts_raise(alerts=[Alert(kind=kind, key=key, subject=subject, body=body, url=url)]))


def alerts_raise(*, alerts: Iterable[Alert]) -> int:
    """Record these incidents (unsaved alerts) but those already open, and send them after commit, in a few
    queries however many there are (a sync may disable hundreds of services); returns how many were new.

    Safe inside a caller's transaction: the insert skips an alert opened meanwhile by another (the one-open-per-key
    constraint decides), and nothing is sent (no network I/O) before the caller commits.
    """
    wanted = {alert.key[:200]: alert for alert in alerts}
    if not wanted:
        return 0
    already = set(Alert.objects.filter(key__in=wanted, resolved_at__isnull=True).values_list("key", flat=True))
    fresh = [alert for key, alert in wanted.items() if key not in already]
    for alert in fresh:
        # One line: a subject is a mail header, and it may quote an upstream's text (a service name).
        alert.key, alert.subject, alert.url = alert.key[:200], " ".join(alert.subject.split())[:300], alert.url[:500]
        logger.warning("alert %s: %s", alert.key, alert.subject)
    Alert.objects.bulk_create(fresh, ignore_conflicts=True)
    # Ours, or the same incident raised at this moment elsewhere: sending is idempotent, so both may ask.
    ids = list(
        Alert.objects.filter(key__in=[alert.key for alert in fresh], resolved_at__isnull=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if ids:
        _send_on_commit(ids)
    return len(fresh)


def alert_resolve(*, key: str) -> int:
    """End the open incident `key`, if any, so that the next one alerts again; returns how many were resolved."""
    return alerts_resolve(alerts=Alert.objects.filter(key=key))


def alerts_resolve(*, alerts: "QuerySet[Alert]") -> int:
    return alerts.filter(resolved_at__isnull=True).update(resolved_at=timezone.now())


def _send_on_commit(alert_ids: list[int]) -> None:
    from backoffice.tasks import send_alert  # the tasks module imports this one: bound at call time

    def enqueue() -> None:
        for alert_id in alert_ids:
            send_alert.delay(alert_id)

    # robust: a broker that is down must not break the caller, which has committed; the sweep sends it later.
    transaction.on_commit(enqueue, robust=True)


def _telegram_configured() -> bool:
    return bool(settings.TELEGRAM_BOT_TOKEN and settings.TELEGRAM_CHAT_ID)


def _email(alert: Alert) -> None:
    body = f"{alert.body}\n\n{alert.url}" if alert.url else alert.body
    send_mail(f"[panel] {alert.subject}", body, None, settings.OPERATOR_EMAILS)


def _scrub(text: str) -> str:
    token = settings.TELEGRAM_BOT_TOKEN
    return text.replace(token, "***") if token else text


def _telegram(alert: Alert) -> None:
    """Send the alert with the Bot API's sendMessage; the token is part of the URL, so it never reaches a log."""
    text = "\n\n".join(part for part in (alert.subject, alert.body, alert.url) if part)[:TELEGRAM_MAX_TEXT]
    url = f"{settings.TELEGRAM_API_BASE}/bot{settings.TELEGRAM_BOT_TOKEN}/sendMessage"
    try:
        response = requests.post(
            url,
            json={"chat_id": settings.TELEGRAM_CHAT_ID, "text": text, "link_preview_options": {"is_disabled": True}},
            timeout=TELEGRAM_TIMEOUT,
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        raise ChannelError(f"Telegram unreachable: {type(exc).__name__}: {_scrub(str(exc))}") from None
    try:
        answer = response.json()
    except ValueError:
        answer = {}
    if not (response.ok and isinstance(answer, dict) and answer.get("ok") is True):
        description = answer.get("description", "") if isinstance(answer, dict) else ""
        raise ChannelError(f"Telegram refused: HTTP {response.status_code} {_scrub(str(description))[:200]}")


def _send_once(alert: Alert, field: str, send: Callable[[Alert], None]) -> bool:
    """Send on one channel unless it was: claimed by a conditional UPDATE (two workers, a redelivered message or
    the sweep never both send), released again when the channel failed so that the sweep tries it later."""
    claimed = Alert.objects.filter(pk=alert.pk, **{f"{field}__isnull": True}).update(**{field: timezone.now()})
    if not claimed:
        return False
    try:
        send(alert)
    except Exception as exc:
        Alert.objects.filter(pk=alert.pk).update(**{field: None})
        message = exc if isinstance(exc, ChannelError) else f"{type(exc).__name__}: {_scrub(str(exc))}"
        logger.warning("alert %s not sent (%s): %s", alert.pk, field.removesuffix("_at"), message)
        return False
    return True


def alert_send(*, alert_id: int) -> list[str]:
    """Send an alert on each configured channel that has not had it yet; returns the channels it went out on."""
    alert = Alert.objects.filter(pk=alert_id).first()
    if alert is None:
        return []
    sent = []
    if settings.OPERATOR_EMAILS and _send_once(alert, "emailed_at", _email):
        sent.append("email")
    if _telegram_configured() and _send_once(alert, "telegram_at", _telegram):
        sent.append("telegram")
    return sent


def alerts_unsent() -> list[int]:
    """Open alerts of the last RESEND_WINDOW that a configured channel has not had yet (a failed send, a lost
    task), oldest first; a minute's grace leaves the task enqueued on commit its turn."""
    missing = Q()
    if settings.OPERATOR_EMAILS:
        missing |= Q(emailed_at__isnull=True)
    if _telegram_configured():
        missing |= Q(telegram_at__isnull=True)
    if not missing:
        return []
    now = timezone.now()
    recent = Q(created_at__gte=now - RESEND_WINDOW, created_at__lt=now - timedelta(minutes=1))
    unsent = Alert.objects.filter(missing, recent, resolved_at__isnull=True).order_by("pk")
    return list(unsent.values_list("pk", flat=True)[:500])
