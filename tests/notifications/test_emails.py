"""Emails of notifications: what the customer switched on (web orders on, API orders off by default), in their
language, once; a mail server that fails loses no notification and never holds polling up."""

import logging

import pytest
from django.core import mail

from notifications.models import Notification
from notifications.services import notification_preferences_set, notifications_email
from notifications.tasks import RETRIES, email_notifications
from orders.models import Order, Refill
from orders.services.followups import refill_request, refills_forward, refills_poll
from orders.services.polling import poll_statuses
from tests.concurrency import run_together
from tests.factories import OrderFactory, RefillFactory
from tests.fakes.smtp import FakeSmtp
from tests.notifications.conftest import sent
from tests.panel.test_i18n import URL, WORD, japanese, japanese_locale  # noqa: F401

pytestmark = pytest.mark.django_db

BASE = "https://panel.example.com"


@pytest.fixture(autouse=True)
def _links(settings):
    settings.PANEL_BASE_URL = BASE


@pytest.fixture
def smtp(settings):
    """A real mail server on loopback, and the panel sending through it."""
    with FakeSmtp() as server:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = server.host, server.port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        yield server


def _end_upstream(simulator, outcome: str = "Completed"):
    simulator.clock.advance(3600)
    return poll_statuses(everything=True)


def test_web_orders_are_emailed_and_api_orders_are_not_by_default(
    alice, services, simulator, eager, django_capture_on_commit_callbacks, mailoutbox
):
    simulator.force_outcome = "Completed"
    [web] = sent(alice, services[1])
    [api] = sent(alice, services[1], origin=Order.Origin.API)
    with django_capture_on_commit_callbacks(execute=True):
        _end_upstream(simulator)
    assert Notification.objects.filter(user=alice).count() == 2
    [message] = mailoutbox
    assert message.to == ["alice@example.com"]
    assert message.subject == f"Order {web.pk}: Completed"
    assert message.body == (
        "Hello alice,\n\n"
        f"Order {web.pk} is completed.\n\n"
        f"Order: {web.pk}\nService: {services[1].name}\nStatus: Completed\n\n"
        f"Your orders: {BASE}/orders/?q={web.pk}\n\n"
        f"Choose which emails you get on your account page: {BASE}/account/\n"
    )
    assert str(api.pk) not in message.body


def test_the_email_of_a_partial_or_canceled_order_says_the_refund(
    alice, services, simulator, eager, django_capture_on_commit_callbacks, mailoutbox
):
    simulator.force_outcome = "Partial"
    [partial] = sent(alice, services[1])
    with django_capture_on_commit_callbacks(execute=True):
        _end_upstream(simulator)
    simulator.force_outcome = "Canceled"
    [canceled] = sent(alice, services[1], quantity="500")
    with django_capture_on_commit_callbacks(execute=True):
        _end_upstream(simulator)
    first, second = mailoutbox
    assert first.subject == f"Order {partial.pk}: Partial"
    assert f"Order {partial.pk} was partly delivered: 0.54 USD for the rest is back in your balance." in first.body
    assert "Status: Partial\nRefund: 0.54 USD\n" in first.body
    assert second.subject == f"Order {canceled.pk}: Canceled"
    assert f"Order {canceled.pk} is canceled: 0.675 USD is back in your balance." in second.body


def test_each_switch_decides_its_own_emails(
    client, alice, services, simulator, eager, django_capture_on_commit_callbacks, mailoutbox
):
    notification_preferences_set(
        user=alice, email_web_orders=False, email_api_orders=True, email_web_refills=True, email_api_refills=False
    )
    simulator.force_outcome = "Completed"
    [web] = sent(alice, services[1])
    [api] = sent(alice, services[1], origin=Order.Origin.API)
    with django_capture_on_commit_callbacks(execute=True):
        _end_upstream(simulator)
    assert [m.subject for m in mailoutbox] == [f"Order {api.pk}: Completed"]

    web_refill, api_refill = (refill_request(user=alice, order_id=order.pk) for order in (web, api))
    refills_forward()
    simulator.clock.advance(3600)
    with django_capture_on_commit_callbacks(execute=True):
        refills_poll(everything=True)
    assert set(Refill.objects.values_list("status", flat=True)) == {"Completed"}
    assert Notification.objects.filter(kind="refill_ended").count() == 2
    assert [m.subject for m in mailoutbox[1:]] == [f"Refill of order {web.pk}: Completed"]
    assert f"The refill of order {web.pk} is completed." in mailoutbox[1].body
    assert f"Your refills: {BASE}/refills/" in mailoutbox[1].body
    assert api_refill.pk != web_refill.pk


def test_nobody_without_an_address_or_an_active_account_is_emailed(alice, bob, mailoutbox):
    alice.email = ""
    alice.save()
    bob.is_active = False
    bob.save()
    notifications = [
        Notification.objects.create(user=user, kind="order_ended", order=OrderFactory.create(user=user),
                                    status="Completed")
        for user in (alice, bob)
    ]  # fmt: skip
    assert notifications_email(notification_ids=[n.pk for n in notifications]) == 0
    assert mailoutbox == []


def test_a_japanese_customer_gets_japanese_email(
    japanese,  # noqa: F811
    alice,
    services,
    simulator,
    eager,
    django_capture_on_commit_callbacks,
    mailoutbox,
):
    alice.language = "ja"
    alice.save()
    simulator.force_outcome = "Partial"
    [order] = sent(alice, services[1])
    with django_capture_on_commit_callbacks(execute=True):
        _end_upstream(simulator)
    [message] = mailoutbox
    assert message.subject == f"注文 {order.pk}：一部完了"
    assert message.body.startswith("alice 様\n\n")
    assert f"注文 {order.pk} は一部のみ納品されました。未納品分の 0.54 USD を残高に返金しました。" in message.body
    assert "返金額：0.54 USD" in message.body
    text = URL.sub(" ", message.body).replace(services[1].name, " ")
    assert [word for word in WORD.findall(text) if word not in {"alice", "USD"}] == [], message.body


def test_a_failing_mail_server_loses_no_notification_and_holds_no_poll_up(
    alice, services, simulator, smtp, eager, django_capture_on_commit_callbacks, caplog
):
    smtp.down = True
    simulator.force_outcome = "Completed"
    [order] = sent(alice, services[1])
    caplog.set_level(logging.WARNING, logger="notifications.tasks")
    with django_capture_on_commit_callbacks(execute=True):
        report = _end_upstream(simulator)
    assert report.failures == [] and Order.objects.get(pk=order.pk).status == "Completed"
    notification = Notification.objects.get(order=order)
    assert notification.emailed_at is None  # given back, to be sent when the server is back
    assert smtp.refused == RETRIES + 1 and smtp.messages == []
    lines = [r for r in caplog.records if r.name == "notifications.tasks"]
    assert len(lines) == RETRIES + 1 and all(r.exc_info is None and "\n" not in r.getMessage() for r in lines)
    assert "SMTPConnectError" in lines[0].getMessage()

    smtp.down = False
    assert email_notifications.delay([notification.pk]).get() == 1
    assert email_notifications.delay([notification.pk]).get() == 0
    [message] = smtp.messages
    assert message["Subject"] == f"Order {order.pk}: Completed" and message["To"] == "alice@example.com"
    assert Notification.objects.get(pk=notification.pk).emailed_at is not None


@pytest.mark.django_db(transaction=True)
def test_two_runs_racing_send_each_email_once(alice, smtp):
    notifications = [
        Notification.objects.create(user=alice, kind="order_ended", order=order, status="Completed")
        for order in OrderFactory.create_batch(10, user=alice, completed=True)
    ]
    notifications.append(
        Notification.objects.create(
            user=alice, kind="refill_ended", order=notifications[0].order, status="Rejected",
            refill=RefillFactory.create(order=notifications[0].order, status=Refill.Status.REJECTED),
        )
    )  # fmt: skip
    ids = [n.pk for n in notifications]
    results = run_together(lambda: notifications_email(notification_ids=ids), 3)
    assert sum(r for r in results if isinstance(r, int)) == 11, results
    assert len(smtp.messages) == 11 and mail.outbox == []
    assert notifications_email(notification_ids=ids) == 0
    assert not Notification.objects.filter(emailed_at__isnull=True).exists()
