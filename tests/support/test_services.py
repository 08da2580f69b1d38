"""support.services: opening, writing, answering, closing and assigning tickets, and staff acting on their orders."""

from decimal import Decimal

import pytest

from backoffice.models import AuditEntry
from billing.models import Wallet
from orders.models import Order, Refill
from panel.errors import ApplicationError
from support.models import BODY_MAX_LENGTH, SUBJECT_MAX_LENGTH, Message, Ticket
from support.selectors import tickets_of, tickets_open_count, tickets_unread_count
from support.services import (
    TICKET_MOVES,
    TicketError,
    TicketNotFound,
    ticket_assign,
    ticket_customer_close,
    ticket_customer_reply,
    ticket_open,
    ticket_order_act,
    ticket_read,
    ticket_staff_close,
    ticket_staff_reply,
)
from tests.concurrency import run_together
from tests.factories import OrderFactory, UserFactory

pytestmark = pytest.mark.django_db

Status = Ticket.Status


def _open(customer, **fields) -> Ticket:
    values = {"subject": "Where is my order?", "kind": "other", "body": "It has been a day.", **fields}
    return ticket_open(customer=customer, **values)


def _nothing_written() -> None:
    assert (Ticket.objects.count(), Message.objects.count()) == (0, 0)


def test_it_opens_a_ticket_with_its_first_message(alice):
    first, second = OrderFactory.create(user=alice), OrderFactory.create(user=alice)
    ticket = _open(alice, kind="speed_up", subject="  Slow \n order  ", order_ids=[str(second.pk), first.pk, first.pk])
    assert (ticket.customer, ticket.kind, ticket.status, ticket.subject) == (alice, "speed_up", "open", "Slow order")
    assert set(ticket.orders.all()) == {first, second}
    assert ticket.waiting_since == ticket.customer_wrote_at == ticket.last_message_at
    [message] = ticket.messages.all()
    assert (message.author, message.is_staff, message.body) == (alice, False, "It has been a day.")


def test_it_refuses_an_order_of_another_customer_as_if_it_did_not_exist(alice, bob):
    foreign = OrderFactory.create(user=bob)
    for order_id in (foreign.pk, foreign.pk + 1000, "12abc"):
        with pytest.raises(TicketError) as refused:
            _open(alice, kind="refill", order_ids=[OrderFactory.create(user=alice).pk, order_id])
        assert (refused.value.field, refused.value.message) == ("orders", f"No such order: {order_id}.")
    _nothing_written()


def test_an_order_problem_names_its_orders_and_other_questions_none(alice):
    with pytest.raises(TicketError) as refused:
        _open(alice, kind="cancel", order_ids=["", " "])
    assert (refused.value.field, refused.value.message) == ("orders", "Choose the order this is about.")
    with pytest.raises(TicketError, match="at most 20 orders"):
        _open(alice, kind="cancel", order_ids=[OrderFactory.create(user=alice).pk for _ in range(21)])
    _nothing_written()
    # Orders ticked before the customer chose another type are left out.
    ticket = _open(alice, kind="payment", order_ids=[OrderFactory.create(user=alice).pk])
    assert ticket.orders.count() == 0


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"subject": " \n "}, "subject", "Write a subject."),
        ({"subject": "x" * (SUBJECT_MAX_LENGTH + 1)}, "subject", "Write at most 150 characters (this is 151)."),
        ({"body": "\x00 \r\n "}, "body", "Write your message."),
        ({"body": "x" * (BODY_MAX_LENGTH + 1)}, "body", "Write at most 5000 characters (this is 5001)."),
        ({"kind": "complaint"}, "kind", "Choose what your question is about."),
    ],
)
def test_it_refuses_bad_input_and_writes_nothing(alice, fields, field, message):
    with pytest.raises(TicketError) as refused:
        _open(alice, **fields)
    assert (refused.value.field, refused.value.message) == (field, message)
    _nothing_written()


def test_it_keeps_the_lines_of_a_message_and_drops_control_characters(alice):
    ticket = _open(alice, body="First line\r\n\tSecond\x00 line\x07\n")
    assert ticket.messages.get().body == "First line\n\tSecond line"


def test_staff_answer_it_and_it_becomes_theirs(alice, sue, tom):
    ticket = _open(alice)
    message = ticket_staff_reply(staff=sue, ticket_id=ticket.pk, body="We are on it.")
    ticket.refresh_from_db()
    assert (ticket.status, ticket.waiting_since, ticket.assignee) == (Status.ANSWERED, None, sue)
    assert (message.author, message.is_staff) == (sue, True)
    ticket_staff_reply(staff=tom, ticket_id=ticket.pk, body="Me too.")
    ticket.refresh_from_db()
    assert ticket.assignee == sue  # an assigned ticket stays with its assignee


def test_the_customer_writing_again_makes_it_open_and_waiting_since_then(alice, sue):
    ticket = _open(alice)
    opened = ticket.waiting_since
    ticket_customer_reply(customer=alice, ticket_id=ticket.pk, body="Also this.")
    ticket.refresh_from_db()
    assert (ticket.status, ticket.waiting_since) == (Status.OPEN, opened)  # still waiting since the first one
    ticket_staff_reply(staff=sue, ticket_id=ticket.pk, body="Done.")
    ticket_customer_reply(customer=alice, ticket_id=ticket.pk, body="Thanks, one more thing.")
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN and ticket.waiting_since > opened
    assert ticket.customer_wrote_at == ticket.last_message_at


def test_either_side_closes_it_and_writing_again_reopens_it(alice, sue):
    ticket = _open(alice)
    ticket_customer_close(customer=alice, ticket_id=ticket.pk)
    ticket.refresh_from_db()
    assert (ticket.status, ticket.waiting_since) == (Status.CLOSED, None) and ticket.closed_at is not None
    with pytest.raises(TicketError, match="closed already"):
        ticket_customer_close(customer=alice, ticket_id=ticket.pk)
    with pytest.raises(TicketError, match="closed already"):
        ticket_staff_close(staff=sue, ticket_id=ticket.pk)

    ticket_customer_reply(customer=alice, ticket_id=ticket.pk, body="It is back to 900 followers.")
    ticket.refresh_from_db()
    assert (ticket.status, ticket.closed_at) == (Status.OPEN, None) and ticket.waiting_since is not None

    ticket_staff_close(staff=sue, ticket_id=ticket.pk)
    ticket_staff_reply(staff=sue, ticket_id=ticket.pk, body="Refilled after all.")
    ticket.refresh_from_db()
    assert (ticket.status, ticket.closed_at) == (Status.ANSWERED, None)
    closes = AuditEntry.objects.filter(action="ticket.close", target_id=str(ticket.pk))
    assert [(entry.actor, entry.before, entry.after) for entry in closes] == [
        (sue, {"status": "open"}, {"status": "closed"})
    ]


def test_every_status_move_is_in_the_table():
    assert set(TICKET_MOVES) == set(Status.values)
    assert Status.CLOSED not in TICKET_MOVES[Status.CLOSED]


def test_a_customer_cannot_write_in_or_close_another_customers_ticket(alice, bob):
    ticket = _open(alice)
    for attempt in (
        lambda: ticket_customer_reply(customer=bob, ticket_id=ticket.pk, body="Mine now"),
        lambda: ticket_customer_close(customer=bob, ticket_id=ticket.pk),
        lambda: ticket_customer_reply(customer=alice, ticket_id="nonsense", body="?"),
    ):
        with pytest.raises(TicketNotFound):
            attempt()
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN and ticket.messages.count() == 1


def test_a_customer_has_at_most_the_open_ticket_limit(alice, bob, settings):
    settings.TICKET_OPEN_LIMIT = 2
    first, _ = _open(alice), _open(alice)
    with pytest.raises(TicketError, match="You have 2 open tickets"):
        _open(alice)
    assert Ticket.objects.filter(customer=alice).count() == 2
    _open(bob)  # the limit is each customer's own

    ticket_customer_close(customer=alice, ticket_id=first.pk)
    third = _open(alice)
    # The closed one would be a third open ticket: writing in it waits until another one is closed.
    with pytest.raises(TicketError, match="You have 2 open tickets"):
        ticket_customer_reply(customer=alice, ticket_id=first.pk, body="Reopen, please")
    ticket_customer_close(customer=alice, ticket_id=third.pk)
    ticket_customer_reply(customer=alice, ticket_id=first.pk, body="Reopen, please")
    assert tickets_open_count(user=alice) == 2


@pytest.mark.django_db(transaction=True)
def test_tickets_opened_at_the_same_moment_keep_to_the_limit(settings):
    settings.TICKET_OPEN_LIMIT = 1
    dana = UserFactory.create(username="dana")
    outcomes = run_together(lambda: _open(dana), 4)
    assert sum(isinstance(outcome, Ticket) for outcome in outcomes) == 1
    assert all(isinstance(outcome, Ticket | TicketError) for outcome in outcomes), outcomes
    assert Ticket.objects.filter(customer=dana).count() == 1


def test_it_assigns_only_staff_who_answer_tickets(alice, bob, sue, tom):
    ticket = _open(alice)
    ticket_assign(staff=sue, ticket_id=ticket.pk, assignee=tom)
    ticket.refresh_from_db()
    assert ticket.assignee == tom
    outsider = UserFactory.create(username="finn", is_staff=True)
    for nobody in (bob, outsider):
        with pytest.raises(TicketError, match="does not answer tickets"):
            ticket_assign(staff=sue, ticket_id=ticket.pk, assignee=nobody)
    ticket_assign(staff=sue, ticket_id=ticket.pk, assignee=None)
    ticket.refresh_from_db()
    assert ticket.assignee is None
    trail = AuditEntry.objects.filter(action="ticket.assign").order_by("pk")
    assert [(entry.before, entry.after) for entry in trail] == [
        ({"assignee": None}, {"assignee": tom.pk}),
        ({"assignee": tom.pk}, {"assignee": None}),
    ]


def test_unread_replies_are_counted_until_the_customer_reads_them(alice, bob, sue):
    first, second = _open(alice), _open(alice)
    ticket_staff_reply(staff=sue, ticket_id=first.pk, body="One")
    reply = ticket_staff_reply(staff=sue, ticket_id=first.pk, body="Two")
    ticket_staff_reply(staff=sue, ticket_id=second.pk, body="Three")
    _open(bob)
    assert tickets_unread_count(user=alice) == 2 and tickets_unread_count(user=bob) == 0
    assert {ticket.pk: ticket.unread for ticket in tickets_of(customer=alice)} == {first.pk: 2, second.pk: 1}
    ticket_read(ticket=first, upto=reply.pk, staff=False)
    ticket_read(ticket=first, upto=reply.pk - 1, staff=False)  # an older page: the marker stays
    assert {ticket.pk: ticket.unread for ticket in tickets_of(customer=alice)} == {first.pk: 0, second.pk: 1}
    assert tickets_unread_count(user=alice) == 1


def test_staff_refill_a_tickets_order_as_the_customer_would(alice, sue, refillable):
    ticket = _open(alice, kind="refill", order_ids=[refillable.pk])
    done = ticket_order_act(staff=sue, ticket_id=ticket.pk, order_id=refillable.pk, action="refill")
    refill = Refill.objects.get(order=refillable)
    assert done == f"Refill {refill.pk} of order {refillable.pk} is queued."
    entry = AuditEntry.objects.get(action="order.refill")
    assert (entry.actor, entry.target_id, entry.note) == (sue, str(refillable.pk), f"from ticket {ticket.pk}")
    with pytest.raises(ApplicationError, match="Refill is disabled"):  # one refill in flight at a time
        ticket_order_act(staff=sue, ticket_id=ticket.pk, order_id=refillable.pk, action="refill")


def test_staff_act_only_on_the_tickets_own_orders(alice, sue, refillable):
    other = OrderFactory.create(user=alice, service=refillable.service, completed=True)
    ticket = _open(alice, kind="refill", order_ids=[refillable.pk])
    with pytest.raises(TicketError, match="not one of this ticket's"):
        ticket_order_act(staff=sue, ticket_id=ticket.pk, order_id=other.pk, action="refill")
    assert not Refill.objects.exists()


def test_staff_cancel_an_unsent_order_with_its_refund_and_resend_an_unknown_one(
    alice, sue, unsent, django_capture_on_commit_callbacks
):
    unknown = OrderFactory.create(user=alice, submission=Order.Submission.UNKNOWN)
    ticket = _open(alice, kind="cancel", order_ids=[unsent.pk, unknown.pk])
    done = ticket_order_act(staff=sue, ticket_id=ticket.pk, order_id=unsent.pk, action="cancel")
    assert "canceled and its charge is back" in done
    unsent.refresh_from_db()
    assert unsent.status == Order.Status.CANCELED
    assert Wallet.objects.get(user=alice).balance == Decimal(100)

    with django_capture_on_commit_callbacks() as callbacks:
        done = ticket_order_act(staff=sue, ticket_id=ticket.pk, order_id=unknown.pk, action="resend")
    assert done == f"Order {unknown.pk} is queued to be sent again." and len(callbacks) == 1
    unknown.refresh_from_db()
    assert unknown.submission == Order.Submission.QUEUED
    with pytest.raises(ApplicationError, match="was not resent"):
        ticket_order_act(staff=sue, ticket_id=ticket.pk, order_id=unknown.pk, action="resend")
