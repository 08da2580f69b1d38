"""Staff answer tickets in the admin: the list (filters, oldest waiting first), each ticket's page (the conversation
as text, a reply with or without a canned one, assigning, closing, the orders and their actions), and who may."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from billing.models import Wallet
from orders.models import Order, Refill
from support.models import CannedReply, Message, Ticket
from support.services import ticket_customer_close, ticket_open, ticket_staff_reply
from tests.factories import CannedReplyFactory, OrderFactory, UserFactory
from tests.support.conftest import staff_browser, staff_member

pytestmark = pytest.mark.django_db

TICKETS = reverse("admin:support_ticket_changelist")
EVIL = '<script>alert("x")</script> see https://evil.example/steal'


def _ticket(customer, **fields) -> Ticket:
    values = {"subject": "Where is my order?", "kind": "other", "body": "It has been a day.", **fields}
    return ticket_open(customer=customer, **values)


def _page(ticket: Ticket) -> str:
    return reverse("admin:support_ticket_change", args=[ticket.pk])


def _listed(client: Client, **query: str) -> list[int]:
    response = client.get(TICKETS, query)
    assert response.status_code == 200
    return [ticket.pk for ticket in response.context["cl"].result_list]


def _waiting_since(ticket: Ticket, minutes: int) -> None:
    Ticket.objects.filter(pk=ticket.pk).update(waiting_since=timezone.now() - timedelta(minutes=minutes))


def test_the_list_shows_the_oldest_waiting_first_and_filters(alice, bob, sue, tom):
    recent = _ticket(alice, kind="refill", order_ids=[OrderFactory.create(user=alice).pk])
    oldest, middle = _ticket(bob, kind="payment"), _ticket(alice)
    answered, closed = _ticket(bob, subject="Answered"), _ticket(alice, subject="Closed")
    _waiting_since(recent, 5)
    _waiting_since(oldest, 300)
    _waiting_since(middle, 60)
    ticket_staff_reply(staff=tom, ticket_id=answered.pk, body="Done.")
    ticket_customer_close(customer=alice, ticket_id=closed.pk)
    client = staff_browser(sue)

    # Open ones by how long they have waited, then the others by their latest message.
    assert _listed(client) == [oldest.pk, middle.pk, recent.pk, answered.pk, closed.pk]
    assert _listed(client, status="open") == [oldest.pk, middle.pk, recent.pk]
    assert _listed(client, kind="payment") == [oldest.pk]
    assert _listed(client, assignee=str(tom.pk)) == [answered.pk]
    assert _listed(client, assignee="me") == []
    assert _listed(client, assignee="nobody") == [oldest.pk, middle.pk, recent.pk, closed.pk]
    assert _listed(client, q="bob") == [oldest.pk, answered.pk]
    html = client.get(TICKETS).content.decode()
    for text in ("Where is my order?", "alice", "Open", "Waiting since", "(5\xa0minutes)", "(5\xa0hours)"):
        assert text in html


def test_a_staff_member_without_the_role_sees_no_ticket(alice):
    ticket = _ticket(alice)
    client = staff_browser(UserFactory.create(username="newcomer", is_staff=True))
    assert client.get(TICKETS).status_code == 403
    assert client.get(_page(ticket)).status_code == 403
    assert client.post(_page(ticket), {"do": "reply", "body": "Hi"}).status_code == 403
    assert client.get(reverse("admin:support_cannedreply_changelist")).status_code == 403
    assert Message.objects.count() == 1


def test_the_ticket_page_shows_the_conversation_as_text(alice, sue, refillable):
    ticket = _ticket(alice, subject="<i>Urgent</i>", body=EVIL, kind="refill", order_ids=[refillable.pk])
    html = staff_browser(sue).get(_page(ticket)).content.decode()
    assert "<script>alert" not in html and "<i>Urgent</i>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; see https://evil.example/steal" in html
    assert "&lt;i&gt;Urgent&lt;/i&gt;" in html
    assert 'href="https://evil.example' not in html  # links customers send are never made clickable
    # The order, its state upstream, and a link to its admin page.
    order_url = reverse("admin:orders_order_change", args=[refillable.pk])
    assert f'<a href="{order_url}">{refillable.pk}</a>' in html
    assert str(refillable.upstream_id) in html and "Completed" in html and "sent" in html


def test_support_answers_and_the_customer_sees_it(alice, sue, customer):
    ticket = _ticket(alice)
    client = staff_browser(sue)
    answer = client.post(_page(ticket), {"do": "reply", "body": "We refilled it.\nCheck again tomorrow."})
    assert answer["Location"] == _page(ticket)
    ticket.refresh_from_db()
    assert (ticket.status, ticket.assignee) == (Ticket.Status.ANSWERED, sue)
    reply = ticket.messages.last()
    assert (reply.author, reply.is_staff, reply.body) == (sue, True, "We refilled it.\nCheck again tomorrow.")
    assert "Your reply is sent" in client.get(_page(ticket)).content.decode()
    assert "We refilled it." in customer.get(f"/tickets/{ticket.pk}/").content.decode()


def test_an_empty_reply_is_refused_and_writes_nothing(alice, sue):
    ticket = _ticket(alice)
    answer = staff_browser(sue).post(_page(ticket), {"do": "reply", "body": "  "})
    assert answer.status_code == 200 and "Write your message." in answer.content.decode()
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.OPEN and ticket.messages.count() == 1


def test_a_canned_reply_is_offered_and_sent_without_the_script(alice, sue):
    canned = CannedReplyFactory.create(title="Refill queued", body="Your refill is queued; it takes up to 24 hours.")
    CannedReplyFactory.create(title="Retired", body="Old text", is_active=False)
    ticket = _ticket(alice)
    client = staff_browser(sue)
    html = client.get(_page(ticket)).content.decode()
    assert f'<option value="{canned.pk}" data-body="{canned.body}">Refill queued</option>' in html
    assert "Retired" not in html
    assert '<script src="/static/support/ticket-admin.js" defer></script>' in html

    client.post(_page(ticket), {"do": "reply", "body": "", "canned": str(canned.pk)})
    client.post(_page(ticket), {"do": "reply", "body": "Hello alice,", "canned": str(canned.pk)})
    replies = list(ticket.messages.filter(is_staff=True).values_list("body", flat=True))
    assert replies == [canned.body, f"Hello alice,\n\n{canned.body}"]


def test_staff_assign_a_ticket_and_close_it(alice, sue, tom):
    ticket = _ticket(alice)
    client = staff_browser(sue)
    client.post(_page(ticket), {"do": "assign", "assignee": str(tom.pk)})
    ticket.refresh_from_db()
    assert ticket.assignee == tom
    client.post(_page(ticket), {"do": "assign_me"})
    ticket.refresh_from_db()
    assert ticket.assignee == sue
    outsider = UserFactory.create(username="finn", is_staff=True)
    answer = client.post(_page(ticket), {"do": "assign", "assignee": str(outsider.pk)}, follow=True)
    assert "Choose a staff member who answers tickets." in answer.content.decode()
    client.post(_page(ticket), {"do": "assign", "assignee": ""})
    ticket.refresh_from_db()
    assert ticket.assignee is None

    client.post(_page(ticket), {"do": "close"})
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.CLOSED
    answer = client.post(_page(ticket), {"do": "close"}, follow=True)
    assert "This ticket is closed already." in answer.content.decode()


def test_staff_refill_cancel_and_resend_the_tickets_orders_from_its_page(alice, sue, refillable, unsent):
    unknown = OrderFactory.create(user=alice, submission=Order.Submission.UNKNOWN)
    ticket = _ticket(alice, kind="order_other", order_ids=[refillable.pk, unsent.pk, unknown.pk])
    client = staff_browser(sue)
    html = client.get(_page(ticket)).content.decode()
    for order, action in ((refillable, "refill"), (unsent, "cancel"), (unknown, "resend")):
        assert f'name="do" value="{action}"><input type="hidden" name="order" value="{order.pk}">' in html
    assert f'value="resend"><input type="hidden" name="order" value="{refillable.pk}"' not in html
    assert f'value="cancel"><input type="hidden" name="order" value="{unknown.pk}"' not in html  # it may exist upstream

    answer = client.post(_page(ticket), {"do": "refill", "order": str(refillable.pk)}, follow=True)
    assert f"of order {refillable.pk} is queued." in answer.content.decode()
    assert Refill.objects.filter(order=refillable).count() == 1
    client.post(_page(ticket), {"do": "cancel", "order": str(unsent.pk)})
    unsent.refresh_from_db()
    assert unsent.status == Order.Status.CANCELED
    assert Wallet.objects.get(user=alice).balance == Decimal(100)
    client.post(_page(ticket), {"do": "resend", "order": str(unknown.pk)})
    unknown.refresh_from_db()
    assert unknown.submission == Order.Submission.QUEUED

    html = client.get(_page(ticket)).content.decode()
    assert 'name="do" value="refill"' not in html and "refill in flight" in html


def test_an_order_of_another_ticket_is_refused(alice, sue, refillable):
    ticket, other = _ticket(alice), _ticket(alice, kind="refill", order_ids=[refillable.pk])
    answer = staff_browser(sue).post(_page(ticket), {"do": "refill", "order": str(refillable.pk)}, follow=True)
    assert "That order is not one of this ticket&#x27;s." in answer.content.decode()
    assert not Refill.objects.exists()
    assert other.orders.count() == 1


def test_staff_who_may_only_view_tickets_read_them_and_change_nothing(alice, refillable):
    viewer = staff_member("vera")
    viewer.user_permissions.add(*Permission.objects.filter(codename__in=["view_ticket", "view_order"]))
    ticket = _ticket(alice, kind="refill", order_ids=[refillable.pk])
    client = staff_browser(viewer)
    html = client.get(_page(ticket)).content.decode()
    assert "It has been a day." in html
    assert 'name="do"' not in html  # no form at all
    for data in (
        {"do": "reply", "body": "Hi"},
        {"do": "close"},
        {"do": "assign_me"},
        {"do": "refill", "order": str(refillable.pk)},
        {"do": "nonsense"},
    ):
        assert client.post(_page(ticket), data).status_code == 403
    ticket.refresh_from_db()
    assert (ticket.status, ticket.assignee, ticket.messages.count()) == (Ticket.Status.OPEN, None, 1)
    assert not Refill.objects.exists()
    assert ticket.staff_read_upto == 0  # only those who answer mark it read


def test_support_may_answer_but_not_act_on_orders_without_the_orders_permission(alice, refillable):
    answering = staff_member("ada")
    answering.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_ticket", "change_ticket", "add_message"])
    )
    ticket = _ticket(alice, kind="refill", order_ids=[refillable.pk])
    client = staff_browser(answering)
    assert 'name="do" value="refill"' not in client.get(_page(ticket)).content.decode()
    assert client.post(_page(ticket), {"do": "refill", "order": str(refillable.pk)}).status_code == 403
    assert client.post(_page(ticket), {"do": "reply", "body": "On it."}).status_code == 302
    assert not Refill.objects.exists()


def test_support_keeps_the_canned_replies(sue):
    client = staff_browser(sue)
    add = reverse("admin:support_cannedreply_add")
    answer = client.post(add, {"title": "Speed up", "body": "We asked the provider to hurry.", "is_active": "on"})
    assert answer.status_code == 302
    canned = CannedReply.objects.get()
    assert canned.title == "Speed up"
    delete = reverse("admin:support_cannedreply_delete", args=[canned.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403


def test_tickets_cannot_be_added_or_deleted_in_the_admin(alice, admin_client):
    ticket = _ticket(alice)
    assert admin_client.get(reverse("admin:support_ticket_add")).status_code == 403
    delete = reverse("admin:support_ticket_delete", args=[ticket.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert admin_client.get(reverse("admin:support_ticket_change", args=[999999])).status_code == 302
    assert Ticket.objects.count() == 1
