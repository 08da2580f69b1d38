"""Alerts to operators: once per incident, by email and Telegram (a fake Bot API over real HTTP), after commit."""

import logging
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from backoffice.alerts import alert_raise
from backoffice.models import Alert
from backoffice.selectors import needs_attention
from backoffice.tasks import send_alert, send_unsent_alerts
from billing.models import Wallet
from billing.payments.services import debt_write_off, payment_credit, payment_reverse
from billing.services import wallet_debit
from billing.tasks import check_ledger
from catalog.models import Provider, Service
from catalog.services.listings import services_enable
from catalog.services.sync import catalog_sync
from catalog.tasks import check_failing_providers, check_provider_balances
from orders.models import Order
from orders.services.forwarding import order_forward, orders_sweep
from orders.services.operators import order_finish, order_resend
from orders.services.placement import order_place
from orders.services.polling import poll_statuses
from tests.backoffice.conftest import BOT_TOKEN, CHAT_ID
from tests.factories import PaymentFactory, UserFactory, second_factor_confirmed

pytestmark = pytest.mark.django_db

LINK = "https://instagram.com/p/abc"
BASE = "https://panel.example.com"


@pytest.fixture
def ops(settings, eager):
    """Operators with an address and absolute links; sending runs in the test (Celery eager)."""
    settings.OPERATOR_EMAILS = ["ops@example.com"]
    settings.PANEL_BASE_URL = BASE


@pytest.fixture
def order(alice, services):
    return order_place(user=alice, service_id=services[1].pk, params={"link": LINK, "quantity": "1000"})


def _ambiguous_add(order, simulator, settings) -> None:
    """The provider takes the order and never answers: it may exist upstream (UNKNOWN)."""
    simulator.faults.stall_add = 3
    settings.UPSTREAM_READ_TIMEOUT = 0.3
    assert order_forward(order_id=order.pk) == "unknown"
    simulator.faults.stall_add = 0


def _order_link(order) -> str:
    return BASE + reverse("admin:orders_order_change", args=[order.pk])


def test_a_forced_unknown_order_gives_one_email_and_one_telegram_message(
    ops, order, simulator, settings, telegram, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _ambiguous_add(order, simulator, settings)
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):  # more cycles of every job that meets the order
            assert order_forward(order_id=order.pk) == ""
            orders_sweep()
            poll_statuses()
            send_unsent_alerts()

    (mail,) = mailoutbox
    assert mail.subject == f"[panel] order {order.pk} is in an unknown state"
    assert mail.to == ["ops@example.com"] and _order_link(order) in mail.body and "no answer within" in mail.body
    (message,) = telegram.messages
    assert message.chat_id == CHAT_ID and message.text.startswith(f"order {order.pk} is in an unknown state")
    assert _order_link(order) in message.text
    alert = Alert.objects.get()
    assert alert.emailed_at and alert.telegram_at and alert.resolved_at is None
    assert alert.url == _order_link(order)
    # And the dashboard lists it under Needs attention.
    unknown = next(item for item in needs_attention(now=timezone.now()) if item.url.endswith("attention=unknown"))
    assert unknown.count == 1


def test_an_order_that_leaves_unknown_resolves_it_and_the_next_incident_alerts_again(
    ops, order, simulator, settings, telegram, mailoutbox, django_capture_on_commit_callbacks, admin_user
):
    simulator.faults.stall_add = 3
    settings.UPSTREAM_READ_TIMEOUT = 0.3
    with django_capture_on_commit_callbacks(execute=True):
        assert order_forward(order_id=order.pk) == "unknown"
        assert order_resend(
            order_id=order.pk, actor=admin_user
        )  # resolved; its forwarding, after commit, stalls again: UNKNOWN
    first, second = Alert.objects.order_by("pk")
    assert first.resolved_at is not None and second.resolved_at is None and first.key == second.key
    assert Order.objects.get(pk=order.pk).submission == "unknown"
    order_finish(order_id=order.pk, status="Canceled", actor=admin_user)
    second.refresh_from_db()
    assert second.resolved_at is not None
    assert [m.subject for m in mailoutbox] == [f"[panel] order {order.pk} is in an unknown state"] * 2
    assert len(telegram.messages) == 2


def test_the_sweeper_alerts_an_order_whose_worker_died_mid_send(
    ops, order, settings, telegram, mailoutbox, django_capture_on_commit_callbacks
):
    stuck_since = timezone.now() - timedelta(seconds=settings.ORDER_SENDING_LIMIT + 1)
    Order.objects.filter(pk=order.pk).update(submission="sending", submission_changed_at=stuck_since)
    with django_capture_on_commit_callbacks(execute=True):
        assert orders_sweep() == 1
        assert orders_sweep() == 0
    (mail,) = mailoutbox
    assert "The worker stopped while sending" in mail.body and _order_link(order) in mail.body
    assert len(telegram.messages) == 1


def test_a_provider_low_on_balance_alerts_once_and_resolves_when_topped_up(
    ops, provider, telegram, mailoutbox, django_capture_on_commit_callbacks
):
    Provider.objects.filter(pk=provider.pk).update(low_balance_threshold=Decimal(2000))  # it holds 1000
    with django_capture_on_commit_callbacks(execute=True):
        check_provider_balances()
        check_provider_balances()
    (mail,) = mailoutbox
    assert mail.subject == "[panel] provider Sim is low on balance: 1000.00000 USD"
    assert BASE + reverse("admin:catalog_provider_change", args=[provider.pk]) in mail.body
    Provider.objects.filter(pk=provider.pk).update(low_balance_threshold=Decimal(500))
    check_provider_balances()
    assert Alert.objects.get().resolved_at is not None


def test_a_provider_failing_for_n_minutes_alerts_once_and_its_next_answer_resolves_it(
    ops, provider, simulator, settings, telegram, mailoutbox, django_capture_on_commit_callbacks
):
    settings.PROVIDER_FAILING_MINUTES = 15
    simulator.stop()
    check_provider_balances()
    check_provider_balances()
    failing = Provider.objects.get(pk=provider.pk)
    assert failing.last_call_ok is False and "cannot connect" in failing.last_call_error
    assert provider.api_key not in failing.last_call_error
    assert check_failing_providers() == 0, "failing, but not for 15 minutes yet"
    Provider.objects.filter(pk=provider.pk).update(failing_since=timezone.now() - timedelta(minutes=16))
    with django_capture_on_commit_callbacks(execute=True):
        assert check_failing_providers() == 1
        check_provider_balances()
        assert check_failing_providers() == 1
    (mail,) = mailoutbox
    assert mail.subject.startswith("[panel] provider Sim has been failing since ")
    assert len(telegram.messages) == 1 and provider.api_key not in mail.body + telegram.messages[0].text

    simulator.start()
    Provider.objects.filter(pk=provider.pk).update(api_url=simulator.url)  # the simulator's new port
    check_provider_balances()
    answered = Provider.objects.get(pk=provider.pk)
    assert (answered.last_call_ok, answered.last_call_error, answered.failing_since) == (True, "", None)
    assert Alert.objects.get().resolved_at is not None


def test_every_call_to_a_provider_records_its_outcome(order, simulator, settings):
    _ambiguous_add(order, simulator, settings)
    provider = Provider.objects.get(pk=order.provider_id)
    assert provider.last_call_ok is False and provider.failing_since is not None
    assert "no answer within" in provider.last_call_error
    simulator.script_reply('{"error": "Incorrect link"}')
    second = order_place(user=order.user, service_id=order.service_id, params={"link": LINK, "quantity": "1000"})
    assert order_forward(order_id=second.pk) == "rejected"
    provider.refresh_from_db()
    assert (provider.last_call_ok, provider.failing_since) == (True, None), "a refusal is an answer"


def test_a_service_a_sync_disables_alerts_once_until_it_is_enabled_again(
    ops, provider, services, simulator, telegram, mailoutbox, django_capture_on_commit_callbacks
):
    fixed = services[1]
    Service.objects.filter(pk=fixed.pk).update(fixed_rate=Decimal("1.000000"))
    next(s for s in simulator.catalog if s.id == 1).rate = Decimal("1.20")
    full = list(simulator.catalog)
    simulator.catalog = [s for s in full if s.id != 2]
    with django_capture_on_commit_callbacks(execute=True):
        catalog_sync(provider=provider)
        catalog_sync(provider=provider)
    subjects = sorted(m.subject for m in mailoutbox)
    assert subjects == [
        f"[panel] service {fixed.pk} ({fixed.name}) disabled: its cost rose above its fixed price",
        f"[panel] service {services[2].pk} ({services[2].name}) disabled: it vanished from the provider's catalog",
    ]
    assert len(telegram.messages) == 2
    assert BASE + reverse("admin:catalog_service_change", args=[fixed.pk]) in "".join(m.body for m in mailoutbox)

    simulator.catalog = full
    catalog_sync(provider=provider)  # back upstream: the sync sells it again
    Service.objects.filter(pk=fixed.pk).update(fixed_rate=Decimal("2.000000"))
    assert services_enable(services=Service.objects.filter(pk=fixed.pk))[0] == 1
    assert Alert.objects.filter(resolved_at__isnull=True).count() == 0


@pytest.mark.ledger_mismatch_expected
def test_a_ledger_mismatch_alerts_once_until_the_wallet_agrees_again(
    ops, alice, telegram, mailoutbox, django_capture_on_commit_callbacks
):
    wallet = Wallet.objects.get(user=alice)
    Wallet.objects.filter(pk=wallet.pk).update(balance=Decimal(150))
    with django_capture_on_commit_callbacks(execute=True):
        assert check_ledger() == 1
        assert check_ledger() == 1
    (mail,) = mailoutbox
    assert mail.subject == "[panel] ledger mismatch: the wallet of alice holds 150.00000, its entries sum to 100.00000"
    assert BASE + reverse("admin:billing_wallet_change", args=[wallet.pk]) in mail.body
    Wallet.objects.filter(pk=wallet.pk).update(balance=Decimal(100))
    assert check_ledger() == 0
    assert Alert.objects.get().resolved_at is not None


def _alert_now(django_capture_on_commit_callbacks, order, simulator, settings) -> Alert:
    with django_capture_on_commit_callbacks(execute=True):
        _ambiguous_add(order, simulator, settings)
    return Alert.objects.get()


def test_telegram_down_breaks_nothing_and_logs_no_token(
    ops, order, simulator, settings, telegram, mailoutbox, caplog, django_capture_on_commit_callbacks
):
    telegram.stop()
    with caplog.at_level(logging.WARNING):
        alert = _alert_now(django_capture_on_commit_callbacks, order, simulator, settings)
    assert Order.objects.get(pk=order.pk).submission == "unknown"
    assert len(mailoutbox) == 1, "email does not wait for Telegram"
    alert.refresh_from_db()
    assert alert.emailed_at is not None and alert.telegram_at is None
    assert "not sent (telegram): Telegram unreachable" in caplog.text and BOT_TOKEN not in caplog.text

    telegram.start()
    settings.TELEGRAM_API_BASE = telegram.url  # its new port
    Alert.objects.filter(pk=alert.pk).update(created_at=timezone.now() - timedelta(minutes=2))
    assert send_unsent_alerts() == 1
    assert len(telegram.messages) == 1 and len(mailoutbox) == 1
    assert send_unsent_alerts() == 0


def test_a_refused_bot_token_breaks_nothing_and_is_logged_without_the_token(
    ops, order, simulator, settings, telegram, mailoutbox, caplog, django_capture_on_commit_callbacks
):
    settings.TELEGRAM_BOT_TOKEN = "999:revoked-token"
    with caplog.at_level(logging.WARNING):
        alert = _alert_now(django_capture_on_commit_callbacks, order, simulator, settings)
    assert telegram.messages == [] and len(mailoutbox) == 1
    assert "Telegram refused: HTTP 401 Unauthorized" in caplog.text and "revoked-token" not in caplog.text
    alert.refresh_from_db()
    assert alert.telegram_at is None


def test_without_telegram_only_email_is_sent(ops, order, simulator, settings, mailoutbox,
                                             django_capture_on_commit_callbacks):  # fmt: skip
    settings.TELEGRAM_BOT_TOKEN, settings.TELEGRAM_CHAT_ID = "", ""
    alert = _alert_now(django_capture_on_commit_callbacks, order, simulator, settings)
    assert len(mailoutbox) == 1
    alert.refresh_from_db()
    assert alert.emailed_at is not None and alert.telegram_at is None


def test_without_operator_emails_only_telegram_is_sent(
    ops, order, simulator, settings, telegram, mailoutbox, django_capture_on_commit_callbacks
):
    settings.OPERATOR_EMAILS = []
    alert = _alert_now(django_capture_on_commit_callbacks, order, simulator, settings)
    assert mailoutbox == [] and len(telegram.messages) == 1
    alert.refresh_from_db()
    assert alert.emailed_at is None and alert.telegram_at is not None


def test_sending_an_alert_again_sends_nothing_twice(
    ops, order, simulator, settings, telegram, mailoutbox, django_capture_on_commit_callbacks
):
    alert = _alert_now(django_capture_on_commit_callbacks, order, simulator, settings)
    assert send_alert(alert.pk) == []  # a redelivered message
    assert len(mailoutbox) == len(telegram.messages) == 1


def test_nothing_is_sent_before_the_caller_commits(ops, order, simulator, settings, telegram, mailoutbox):
    _ambiguous_add(order, simulator, settings)  # the test's transaction never commits
    assert Alert.objects.count() == 1
    assert mailoutbox == [] and telegram.messages == []


def test_an_operator_marks_alerts_resolved_from_the_admin(
    ops, order, simulator, settings, django_capture_on_commit_callbacks, client, charlie
):
    alert = _alert_now(django_capture_on_commit_callbacks, order, simulator, settings)
    charlie.is_staff = True
    charlie.save(update_fields=["is_staff"])
    charlie.user_permissions.add(*Permission.objects.filter(codename__in=["view_alert", "change_alert"]))
    client.force_login(charlie)
    second_factor_confirmed(client, charlie)
    changelist = reverse("admin:backoffice_alert_changelist")
    assert f"order {order.pk} is in an unknown state" in client.get(changelist, {"state": "open"}).text
    client.post(changelist, {"action": "mark_resolved", "_selected_action": [str(alert.pk)]})
    alert.refresh_from_db()
    assert alert.resolved_at is not None
    assert f"order {order.pk} is in an unknown state" not in client.get(changelist, {"state": "open"}).text


def test_staff_without_the_change_permission_cannot_resolve(
    ops, order, simulator, settings, django_capture_on_commit_callbacks, client
):
    alert = _alert_now(django_capture_on_commit_callbacks, order, simulator, settings)
    viewer = UserFactory.create(username="viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_alert"))
    client.force_login(viewer)
    second_factor_confirmed(client, viewer)
    client.post(reverse("admin:backoffice_alert_changelist"),
                {"action": "mark_resolved", "_selected_action": [str(alert.pk)]})  # fmt: skip
    alert.refresh_from_db()
    assert alert.resolved_at is None


def test_money_owed_after_a_dispute_alerts_once_and_settling_the_debt_resolves_it(
    ops, telegram, mailoutbox, admin_user, django_capture_on_commit_callbacks
):
    payment = PaymentFactory.create(amount=Decimal(50), user=UserFactory.create(username="dora"))
    assert payment_credit(payment_id=payment.pk)
    wallet_debit(user=payment.user, amount=Decimal(30), note="spent")
    with django_capture_on_commit_callbacks(execute=True):
        payment_reverse(payment_id=payment.pk, kind="dispute", reference="dp_1", amount=Decimal(50))
        payment_reverse(payment_id=payment.pk, kind="dispute", reference="dp_1", amount=Decimal(50))  # again
    (mail,) = mailoutbox
    assert mail.subject == f"[panel] payment {payment.pk} disputed: dora owes 30.00000"
    debts = BASE + reverse("admin:billing_paymentreversal_changelist") + "?debt=open&q=dora"
    assert debts in mail.body and debts in telegram.messages[0].text
    debt_write_off(user=payment.user, actor=admin_user, note="paid by bank transfer")
    assert Alert.objects.get().resolved_at is not None


def test_a_service_name_with_a_line_break_still_makes_a_one_line_subject(
    ops, provider, services, simulator, mailoutbox, django_capture_on_commit_callbacks
):
    Service.objects.filter(pk=services[2].pk).update(name="Evil\r\nBcc: victim@example.com")
    simulator.catalog = [s for s in simulator.catalog if s.id != 2]
    with django_capture_on_commit_callbacks(execute=True):
        catalog_sync(provider=provider)
    (mail,) = mailoutbox
    assert (
        mail.subject == f"[panel] service {services[2].pk} (Evil Bcc: victim@example.com) disabled: it vanished "
        "from the provider's catalog"
    )


def test_an_answer_through_a_provider_loaded_before_the_streak_still_ends_it(ops, provider, simulator):
    from catalog.clients import provider_client

    loaded_before = Provider.objects.get(pk=provider.pk)
    Provider.objects.filter(pk=provider.pk).update(failing_since=timezone.now() - timedelta(minutes=20))
    alert_raise(kind=Alert.Kind.PROVIDER_FAILING, key=f"provider-failing:{provider.pk}", subject="failing", body="",
                url="")  # fmt: skip
    provider_client(loaded_before).balance()
    assert Provider.objects.get(pk=provider.pk).failing_since is None
    assert Alert.objects.get().resolved_at is not None, "the database said the streak ended"
