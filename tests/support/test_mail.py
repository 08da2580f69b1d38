"""Ticket mail, sent by a Celery task once the write is committed: to the customer when staff answer (in their
language, with the ticket's link), to the assignee or the support address when the customer writes; plain text;
a mail the server refused is sent again by the sweep, and none is sent twice."""

from datetime import timedelta

import pytest
from django.utils import timezone

from support.models import Message
from support.services import message_notify, ticket_assign, ticket_customer_reply, ticket_open, ticket_staff_reply
from support.tasks import notify_unsent_messages

pytestmark = pytest.mark.django_db


@pytest.fixture
def mailing(settings, eager):
    """Support's address and absolute links; the mail task runs in the test (Celery eager)."""
    settings.SUPPORT_EMAIL = ["help@panel.example"]
    settings.PANEL_BASE_URL = "https://panel.example"


def _open(customer, captured, **fields):
    values = {"subject": "Followers dropped", "kind": "other", "body": "From 1000 to 800 overnight.", **fields}
    with captured(execute=True):
        return ticket_open(customer=customer, **values)


def test_a_new_ticket_is_mailed_to_the_support_address(mailing, alice, mailoutbox, django_capture_on_commit_callbacks):
    ticket = _open(alice, django_capture_on_commit_callbacks)
    [mail] = mailoutbox
    assert mail.to == ["help@panel.example"]
    assert mail.subject == f"[panel] New ticket {ticket.pk} from alice: Followers dropped"
    assert "From 1000 to 800 overnight." in mail.body
    assert f"https://panel.example/admin/support/ticket/{ticket.pk}/change/" in mail.body
    assert mail.alternatives == []  # plain text only
    assert Message.objects.get().notified_at is not None


def test_what_the_customer_writes_goes_to_the_assignee(
    mailing, alice, sue, tom, mailoutbox, django_capture_on_commit_callbacks
):
    ticket = _open(alice, django_capture_on_commit_callbacks)
    ticket_assign(staff=sue, ticket_id=ticket.pk, assignee=tom)
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        ticket_customer_reply(customer=alice, ticket_id=ticket.pk, body="Any news?")
    [mail] = mailoutbox
    assert mail.to == ["tom@panel.example"]
    assert mail.subject == f"[panel] Customer wrote in ticket {ticket.pk} from alice: Followers dropped"
    assert "Any news?" in mail.body


def test_staff_answers_are_mailed_to_the_customer_with_the_link(
    mailing, alice, sue, mailoutbox, django_capture_on_commit_callbacks
):
    ticket = _open(alice, django_capture_on_commit_callbacks)
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        ticket_staff_reply(staff=sue, ticket_id=ticket.pk, body="Refilled: <b>check</b> & see.")
    [mail] = mailoutbox
    assert mail.to == ["alice@example.com"] and mail.alternatives == []
    assert mail.subject == f"New reply to your ticket {ticket.pk}: Followers dropped"
    assert "Hello alice," in mail.body
    assert "Refilled: <b>check</b> & see." in mail.body  # text, not HTML: nothing to escape
    assert f"https://panel.example/tickets/{ticket.pk}/" in mail.body


def test_the_customer_is_mailed_in_their_own_language(
    mailing, alice, sue, mailoutbox, django_capture_on_commit_callbacks
):
    alice.language = "ja"
    alice.save(update_fields=["language"])
    ticket = _open(alice, django_capture_on_commit_callbacks)
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        ticket_staff_reply(staff=sue, ticket_id=ticket.pk, body="対応しました。")
    [mail] = mailoutbox
    assert mail.subject == f"お問い合わせ {ticket.pk} に返信がありました: Followers dropped"
    assert "alice 様" in mail.body and "対応しました。" in mail.body
    assert f"https://panel.example/tickets/{ticket.pk}/" in mail.body


def test_without_a_support_address_nothing_is_sent_and_nothing_waits(
    settings, eager, alice, mailoutbox, django_capture_on_commit_callbacks
):
    settings.SUPPORT_EMAIL = []
    _open(alice, django_capture_on_commit_callbacks)
    assert mailoutbox == []
    assert Message.objects.get().notified_at is not None


def test_a_mail_the_server_refused_is_sent_by_the_sweep_once(
    mailing, settings, alice, mailoutbox, django_capture_on_commit_callbacks, caplog
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2  # nothing listens there
    _open(alice, django_capture_on_commit_callbacks)
    message = Message.objects.get()
    assert message.notified_at is None
    assert f"ticket mail of message {message.pk} not sent: ConnectionRefusedError" in caplog.text

    assert notify_unsent_messages() == 0  # a minute's grace for the task enqueued on commit
    Message.objects.filter(pk=message.pk).update(created_at=timezone.now() - timedelta(minutes=2))
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert notify_unsent_messages() == 1
    assert [mail.to for mail in mailoutbox] == [["help@panel.example"]]
    assert notify_unsent_messages() == 0
    assert message_notify(message_id=message.pk) is False  # claimed once: never sent twice
    assert len(mailoutbox) == 1
