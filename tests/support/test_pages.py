"""The customer's support pages: their tickets, a new ticket, one ticket's conversation; foreign ids refused as if
they did not exist; what customers write shown as text; the refill or cancel they can do themselves."""

import re
from decimal import Decimal

import pytest
from django.test import Client

from billing.models import Wallet
from orders.models import Order, Refill
from support.models import Message, Ticket
from support.services import ticket_customer_close, ticket_open, ticket_staff_reply
from tests.factories import OrderFactory, TicketFactory

pytestmark = pytest.mark.django_db

NEW = "/tickets/new/"
EVIL = '<script>alert("x")</script> see https://evil.example/steal?a=1&b=2'


def _ticket(customer, **fields) -> Ticket:
    values = {"subject": "Where is my order?", "kind": "other", "body": "It has been a day.", **fields}
    return ticket_open(customer=customer, **values)


def _post_new(client: Client, **fields):
    data = {"subject": "Slow order", "kind": "speed_up", "body": "Please speed it up.", **fields}
    return client.post(NEW, data)


def test_it_sends_visitors_to_sign_in(client):
    for url in ("/tickets/", NEW, "/tickets/1/"):
        assert client.get(url)["Location"] == f"/accounts/login/?next={url}"
    assert client.post("/tickets/1/", {"body": "hi"})["Location"] == "/accounts/login/?next=/tickets/1/"
    assert Message.objects.count() == 0


def test_the_list_shows_the_customers_own_tickets_with_their_unread_replies(customer, alice, bob, sue):
    answered, quiet = _ticket(alice, subject="Refill please"), _ticket(alice, subject="Payment missing")
    ticket_staff_reply(staff=sue, ticket_id=answered.pk, body="Done.")
    ticket_staff_reply(staff=sue, ticket_id=answered.pk, body="And refilled.")
    _ticket(bob, subject="Bob's secret question")
    page = customer.get("/tickets/")
    html = page.content.decode()
    assert [ticket.pk for ticket in page.context["page"]] == [answered.pk, quiet.pk]
    assert "Bob&#x27;s secret question" not in html and "Bob's secret question" not in html
    assert "2 new replies" in html and "Answered" in html and "Open" in html
    # The menu says so on every page.
    assert re.search(
        r'href="/tickets/"[^>]*>Support <span class="nav-count" title="1 ticket with a new reply">1<', html
    )


def test_a_customer_opens_a_ticket_about_their_order(customer, alice):
    order = OrderFactory.create(user=alice)
    form = customer.get(NEW, {"order": order.pk})
    assert re.search(rf'name="orders" value="{order.pk}" checked', form.content.decode())
    answer = _post_new(customer, orders=[str(order.pk)])
    ticket = Ticket.objects.get()
    assert answer["Location"] == f"/tickets/{ticket.pk}/"
    assert (ticket.customer, ticket.kind, list(ticket.orders.all())) == (alice, "speed_up", [order])
    page = customer.get(answer["Location"])
    html = page.content.decode()
    assert "Your ticket is sent." in html and "Please speed it up." in html and "Slow order" in html


def test_the_orders_list_has_a_get_help_link_for_each_order(customer, alice):
    order = OrderFactory.create(user=alice)
    html = customer.get("/orders/").content.decode()
    assert f'href="/tickets/new/?order={order.pk}"' in html


def test_it_refuses_a_foreign_order_as_if_it_did_not_exist(customer, alice, bob):
    mine, foreign = OrderFactory.create(user=alice), OrderFactory.create(user=bob, link="https://bob.example/secret")
    form = customer.get(NEW, {"order": foreign.pk}).content.decode()
    assert f'value="{foreign.pk}"' not in form and "bob.example" not in form
    for order_id in (foreign.pk, 987654321):
        answer = _post_new(customer, orders=[str(mine.pk), str(order_id)])
        assert answer.status_code == 200
        assert f"No such order: {order_id}." in answer.content.decode()
    assert not Ticket.objects.exists()


def test_it_shows_each_problem_next_to_its_field_and_keeps_what_was_typed(customer):
    answer = _post_new(customer, subject="", body="I typed this already", kind="refill")
    html = answer.content.decode()
    assert answer.status_code == 200 and "Write a subject." in html and "I typed this already" in html
    answer = _post_new(customer, kind="refill")
    assert "Choose the order this is about." in answer.content.decode()
    assert not Ticket.objects.exists()


def test_foreign_and_unknown_tickets_do_not_exist(customer, alice, bob):
    foreign = _ticket(bob, body="Bob's own words")
    for url in (f"/tickets/{foreign.pk}/", "/tickets/999999/"):
        assert customer.get(url).status_code == 404
        assert customer.post(url, {"do": "reply", "body": "Hijack"}).status_code == 404
        assert customer.post(url, {"do": "close"}).status_code == 404
    foreign.refresh_from_db()
    assert foreign.status == Ticket.Status.OPEN and foreign.messages.count() == 1


def test_a_customer_reads_the_reply_answers_and_closes(customer, alice, sue):
    ticket = _ticket(alice)
    ticket_staff_reply(staff=sue, ticket_id=ticket.pk, body="It is on its way.")
    url = f"/tickets/{ticket.pk}/"
    html = customer.get(url).content.decode()
    assert "It is on its way." in html and '<span class="badge new">New</span>' in html
    assert '<span class="badge new">' not in customer.get(url).content.decode()  # read now
    answer = customer.post(url, {"do": "reply", "body": "Thanks!"}, follow=True)
    assert "Your message is sent." in answer.content.decode()
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.OPEN and ticket.messages.last().body == "Thanks!"

    answer = customer.post(url, {"do": "reply", "body": "   "})
    assert answer.status_code == 200 and "Write your message." in answer.content.decode()
    assert ticket.messages.count() == 3

    answer = customer.post(url, {"do": "close"}, follow=True)
    assert "The ticket is closed." in answer.content.decode()
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.CLOSED
    assert "This ticket is closed. Writing in it reopens it." in answer.content.decode()


def test_what_customers_and_staff_write_is_shown_as_text(customer, alice, sue):
    ticket = _ticket(alice, subject="<b>Help</b>", body=EVIL)
    ticket_staff_reply(staff=sue, ticket_id=ticket.pk, body=EVIL)
    for html in (customer.get(f"/tickets/{ticket.pk}/").content.decode(), customer.get("/tickets/").content.decode()):
        assert "<script>alert" not in html and "<b>Help</b>" not in html
        assert "&lt;b&gt;Help&lt;/b&gt;" in html
        assert 'href="https://evil.example' not in html
    page = customer.get(f"/tickets/{ticket.pk}/").content.decode()
    assert (
        page.count("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; see https://evil.example/steal?a=1&amp;b=2") == 2
    )


def test_a_refill_question_offers_the_refill_before_opening_a_ticket(customer, alice, refillable):
    question = {"subject": "Followers dropped", "kind": "refill", "body": "Please refill.", "orders": [refillable.pk]}
    answer = customer.post(NEW, question)
    html = answer.content.decode()
    assert answer.status_code == 200 and not Ticket.objects.exists()
    assert "You can refill this yourself, right now" in html
    assert f'action="/orders/{refillable.pk}/refill/"' in html and "Send the ticket anyway" in html

    # The button is the orders page's own: it asks for the refill and comes back to the refills page.
    done = customer.post(f"/orders/{refillable.pk}/refill/", {"next": "/refills/"})
    assert done["Location"] == "/refills/" and Refill.objects.filter(order=refillable).count() == 1
    answer = customer.post(NEW, question)
    assert answer.status_code == 302 and Ticket.objects.count() == 1  # nothing left to offer: the ticket is sent


def test_a_customer_may_send_the_ticket_anyway(customer, refillable):
    question = {"subject": "Followers dropped", "kind": "refill", "body": "Please check.", "orders": [refillable.pk]}
    answer = customer.post(NEW, {**question, "send_anyway": "1"})
    ticket = Ticket.objects.get()
    assert answer["Location"] == f"/tickets/{ticket.pk}/"
    # Its page still offers the refill.
    html = customer.get(answer["Location"]).content.decode()
    assert f'action="/orders/{refillable.pk}/refill/"' in html
    assert f'action="/orders/{refillable.pk}/cancel/"' not in html


def test_a_cancel_ticket_offers_the_cancel_and_it_refunds_at_once(customer, alice, unsent):
    page = customer.get(NEW, {"order": unsent.pk, "kind": "cancel"}).content.decode()
    assert "You can cancel this yourself, right now" in page and f'action="/orders/{unsent.pk}/cancel/"' in page
    ticket = _ticket(alice, kind="cancel", order_ids=[unsent.pk])
    url = f"/tickets/{ticket.pk}/"
    assert f'action="/orders/{unsent.pk}/cancel/"' in customer.get(url).content.decode()
    answer = customer.post(f"/orders/{unsent.pk}/cancel/", {"next": url}, follow=True)
    assert f"Order {unsent.pk} is canceled and its charge is back in your balance." in answer.content.decode()
    unsent.refresh_from_db()
    assert unsent.status == Order.Status.CANCELED
    assert Wallet.objects.get(user=alice).balance == Decimal(100)
    assert f'action="/orders/{unsent.pk}/cancel/"' not in customer.get(url).content.decode()


def test_other_questions_offer_no_action(customer, alice, refillable, unsent):
    ticket = _ticket(alice, kind="speed_up", order_ids=[refillable.pk, unsent.pk])
    html = customer.get(f"/tickets/{ticket.pk}/").content.decode()
    assert "/refill/" not in html and "/cancel/" not in html
    assert refillable.service.name in html and unsent.service.name in html
    answer = _post_new(customer, kind="speed_up", orders=[str(unsent.pk)])
    assert answer.status_code == 302  # no offer in between


def test_a_foreign_order_is_never_offered(customer, bob):
    foreign = OrderFactory.create(user=bob, status=Order.Status.PENDING)
    page = customer.get(NEW, {"order": foreign.pk, "kind": "cancel"}).content.decode()
    assert "/cancel/" not in page and "You can cancel" not in page


def test_a_closed_ticket_has_no_close_button(customer, alice):
    ticket = TicketFactory.create(customer=alice)
    ticket_customer_close(customer=alice, ticket_id=ticket.pk)
    html = customer.get(f"/tickets/{ticket.pk}/").content.decode()
    assert 'value="close"' not in html and "Writing in it reopens it." in html
