"""Ticket and message floods: past the limit the customer gets a clear answer (429) and nothing is created."""

import pytest

from support.models import Message, Ticket
from support.services import ticket_open

pytestmark = pytest.mark.django_db

TOO_MANY_TICKETS = "You have opened too many tickets in a short time. Please wait a while, or write in one you have."
TOO_FAST = "You are writing too fast. Please wait a while and try again."


def _new(client, n: int):
    return client.post("/tickets/new/", {"subject": f"Question {n}", "kind": "other", "body": "Hello?"})


def test_a_flood_of_tickets_is_refused_and_creates_nothing(customer, client, alice, bob, settings):
    settings.TICKET_RATE_LIMIT = 3
    assert [_new(customer, n).status_code for n in range(3)] == [302, 302, 302]
    refused = _new(customer, 3)
    assert refused.status_code == 429
    html = refused.content.decode()
    assert TOO_MANY_TICKETS in html and 'value="Question 3"' in html  # the form keeps what was typed
    assert (Ticket.objects.count(), Message.objects.count()) == (3, 3)

    client.force_login(bob)  # each customer has a limit of their own
    assert _new(client, 4).status_code == 302
    assert Ticket.objects.filter(customer=bob).count() == 1


def test_refused_input_does_not_use_up_the_limit(customer, settings):
    settings.TICKET_RATE_LIMIT = 1
    for _ in range(3):
        assert customer.post("/tickets/new/", {"subject": "", "kind": "other", "body": "x"}).status_code == 200
    assert _new(customer, 1).status_code == 302


def test_a_flood_of_messages_is_refused_and_creates_nothing(customer, alice, settings):
    settings.TICKET_MESSAGE_RATE_LIMIT = 2
    ticket = ticket_open(customer=alice, subject="Where is it?", kind="other", body="Hello?")
    url = f"/tickets/{ticket.pk}/"
    assert [customer.post(url, {"do": "reply", "body": f"again {n}"}).status_code for n in range(2)] == [302, 302]
    refused = customer.post(url, {"do": "reply", "body": "and again"})
    assert refused.status_code == 429
    assert TOO_FAST in refused.content.decode() and "and again" in refused.content.decode()
    assert ticket.messages.count() == 3
    ticket.refresh_from_db()
    assert ticket.last_message_at == ticket.messages.order_by("pk").last().created_at
