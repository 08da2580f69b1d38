"""Writes to tickets: a customer opens one and writes in it, staff answer, either side closes it; staff assign it and
act on its orders; each side's read marker; and the mail every message sends once committed.

Every status move is in TICKET_MOVES: the customer writing makes a ticket open (a closed one reopens), staff
writing makes it answered, closing makes it closed. Ticket and message creation are rate limited per customer.
"""

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext, gettext_noop

from accounts.models import User
from backoffice.alerts import admin_link
from backoffice.audit import audit_record
from orders.selectors import customer_orders
from orders.services.followups import cancel_request, refill_request
from orders.services.operators import order_resend
from orders.validation import OrderError
from panel.errors import ApplicationError
from panel.ids import record_id
from panel.ratelimit import allow
from support.models import BODY_MAX_LENGTH, SUBJECT_MAX_LENGTH, Message, Ticket
from support.selectors import OrderAction

logger = logging.getLogger(__name__)

Status = Ticket.Status
Kind = Ticket.Kind
# For each status, the statuses a ticket may move to from it.
TICKET_MOVES: Mapping[str, frozenset[str]] = {
    Status.OPEN: frozenset({Status.OPEN, Status.ANSWERED, Status.CLOSED}),
    Status.ANSWERED: frozenset({Status.OPEN, Status.ANSWERED, Status.CLOSED}),
    # Writing again reopens it: the customer's "still not refilled" belongs with what was said before.
    Status.CLOSED: frozenset({Status.OPEN, Status.ANSWERED}),
}
MAX_ORDERS = 20
# Text a customer typed keeps its lines and tabs; other control characters (NUL, which Postgres refuses, among
# them) are dropped.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
NO_SUCH_ORDER = gettext_noop("No such order: %(id)s.")
NO_SUCH_TICKET = gettext_noop("There is no such ticket.")


class TicketError(ApplicationError):
    """A refused ticket or message; nothing was written."""


class TicketNotFound(TicketError):
    def __init__(self) -> None:
        super().__init__(NO_SUCH_TICKET)


class TicketRateLimited(TicketError):
    """Too many tickets or messages in the window: a flood, refused before anything is written."""


@dataclass(frozen=True)
class TicketDraft:
    """A new ticket as checked: what ticket_open writes."""

    subject: str
    kind: str
    body: str
    order_ids: list[int]


def _body(text: str) -> str:
    body = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n")).strip()
    if not body:
        raise TicketError(gettext_noop("Write your message."), field="body")
    if len(body) > BODY_MAX_LENGTH:
        raise TicketError(
            gettext_noop("Write at most %(max)s characters (this is %(count)s)."),
            field="body", max=BODY_MAX_LENGTH, count=len(body),
        )  # fmt: skip
    return body


def _subject(text: str) -> str:
    # One line: it is also the subject of the mails about the ticket.
    subject = " ".join(_CONTROL.sub(" ", text).split())
    if not subject:
        raise TicketError(gettext_noop("Write a subject."), field="subject")
    if len(subject) > SUBJECT_MAX_LENGTH:
        raise TicketError(
            gettext_noop("Write at most %(max)s characters (this is %(count)s)."),
            field="subject", max=SUBJECT_MAX_LENGTH, count=len(subject),
        )  # fmt: skip
    return subject


def _order_ids(customer: User, raw_ids: Iterable[object]) -> list[int]:
    """The customer's own orders among these ids; any other id is refused as if it did not exist."""
    wanted = list(dict.fromkeys(str(raw).strip() for raw in raw_ids if str(raw).strip()))
    if not wanted:
        raise TicketError(gettext_noop("Choose the order this is about."), field="orders")
    if len(wanted) > MAX_ORDERS:
        raise TicketError(gettext_noop("Choose at most %(max)s orders."), field="orders", max=MAX_ORDERS)
    ids = []
    for raw in wanted:
        order_id = record_id(raw)
        if order_id is None:
            raise TicketError(NO_SUCH_ORDER, field="orders", id=raw[:20])
        ids.append(order_id)
    own = set(customer_orders(user=customer).filter(pk__in=ids).values_list("pk", flat=True))
    for order_id in ids:
        if order_id not in own:
            raise TicketError(NO_SUCH_ORDER, field="orders", id=order_id)
    return ids


def ticket_draft_clean(
    *, customer: User, subject: str, kind: str, body: str, order_ids: Iterable[object] = ()
) -> TicketDraft:
    """Check a new ticket without writing anything: subject, type, message, and for an order problem the orders
    (the customer's own, at least one)."""
    clean_subject = _subject(subject)
    if kind not in Kind.values:
        raise TicketError(gettext_noop("Choose what your question is about."), field="kind")
    ids = _order_ids(customer, order_ids) if kind in Ticket.ORDER_KINDS else []
    return TicketDraft(subject=clean_subject, kind=kind, body=_body(body), order_ids=ids)


def _lock_customer(customer: User) -> None:
    # One customer's ticket writes one after another, so that two at once cannot both pass the open-tickets limit.
    User.objects.select_for_update().filter(pk=customer.pk).first()


def _room_for_one_more(customer: User) -> None:
    unfinished = Ticket.objects.filter(customer=customer, status__in=Ticket.UNFINISHED).count()
    if unfinished >= settings.TICKET_OPEN_LIMIT:
        raise TicketError(
            gettext_noop(
                "You have %(count)s open tickets: write in one of them, or close those you no longer need first."
            ),
            count=unfinished,
        )


TOO_MANY_TICKETS = gettext_noop(
    "You have opened too many tickets in a short time. Please wait a while, or write in one you have."
)
TOO_MANY_MESSAGES = gettext_noop("You are writing too fast. Please wait a while and try again.")


def _within_rate(name: str, customer: User, limit: int, refusal: str) -> None:
    if not allow(name=f"{name}:{customer.pk}", limit=limit, window=settings.TICKET_RATE_WINDOW):
        raise TicketRateLimited(refusal)


def _move(ticket: Ticket, status: str) -> None:
    if status not in TICKET_MOVES[ticket.status]:
        raise TicketError(gettext_noop("This ticket is closed already."))
    ticket.status = status


def _notify_on_commit(message_id: int) -> None:
    from support.tasks import notify_message  # the tasks module imports this one: bound at call time

    # robust: a broker that is down must not break the committed write; the sweep sends the mail later.
    transaction.on_commit(lambda: notify_message.delay(message_id), robust=True)


@transaction.atomic
def ticket_open(*, customer: User, subject: str, kind: str, body: str, order_ids: Iterable[object] = ()) -> Ticket:
    """Open a ticket with its first message; staff (the support address) are mailed once it is committed."""
    draft = ticket_draft_clean(customer=customer, subject=subject, kind=kind, body=body, order_ids=order_ids)
    _lock_customer(customer)
    _room_for_one_more(customer)
    _within_rate("ticket-open", customer, settings.TICKET_RATE_LIMIT, TOO_MANY_TICKETS)
    now = timezone.now()
    ticket = Ticket.objects.create(
        customer=customer, subject=draft.subject, kind=draft.kind, last_message_at=now, customer_wrote_at=now,
        waiting_since=now,
    )  # fmt: skip
    ticket.orders.set(draft.order_ids)
    message = Message.objects.create(ticket=ticket, author=customer, is_staff=False, body=draft.body, created_at=now)
    _notify_on_commit(message.pk)
    return ticket


def _locked(ticket_id: object, customer: User | None = None) -> Ticket:
    tickets = Ticket.objects.select_for_update().filter(pk=record_id(ticket_id) or 0)
    ticket = (tickets if customer is None else tickets.filter(customer=customer)).first()
    if ticket is None:
        raise TicketNotFound
    return ticket


@transaction.atomic
def ticket_customer_reply(*, customer: User, ticket_id: object, body: str) -> Message:
    """The customer writes in their own ticket: it is open again (a closed one reopens, within the limit)."""
    text = _body(body)
    _lock_customer(customer)
    ticket = _locked(ticket_id, customer)
    if ticket.status == Status.CLOSED:
        _room_for_one_more(customer)
    _within_rate("ticket-message", customer, settings.TICKET_MESSAGE_RATE_LIMIT, TOO_MANY_MESSAGES)
    now = timezone.now()
    if ticket.status != Status.OPEN:
        ticket.waiting_since = now
    _move(ticket, Status.OPEN)
    ticket.last_message_at = ticket.customer_wrote_at = now
    ticket.closed_at = None
    ticket.save(update_fields=["status", "waiting_since", "last_message_at", "customer_wrote_at", "closed_at"])
    message = Message.objects.create(ticket=ticket, author=customer, is_staff=False, body=text, created_at=now)
    _notify_on_commit(message.pk)
    return message


@transaction.atomic
def ticket_staff_reply(*, staff: User, ticket_id: object, body: str) -> Message:
    """Staff answer: the ticket is answered, the customer is mailed; an unassigned ticket becomes the replier's."""
    text = _body(body)
    ticket = _locked(ticket_id)
    _move(ticket, Status.ANSWERED)
    now = timezone.now()
    ticket.last_message_at = now
    ticket.waiting_since = ticket.closed_at = None
    if ticket.assignee_id is None:
        ticket.assignee = staff
    ticket.save(update_fields=["status", "waiting_since", "last_message_at", "closed_at", "assignee"])
    message = Message.objects.create(ticket=ticket, author=staff, is_staff=True, body=text, created_at=now)
    _notify_on_commit(message.pk)
    return message


def _close(ticket: Ticket) -> None:
    _move(ticket, Status.CLOSED)
    ticket.closed_at = timezone.now()
    ticket.waiting_since = None
    ticket.save(update_fields=["status", "closed_at", "waiting_since"])


@transaction.atomic
def ticket_customer_close(*, customer: User, ticket_id: object) -> Ticket:
    """The customer closes their own ticket (solved, or no longer needed)."""
    ticket = _locked(ticket_id, customer)
    _close(ticket)
    return ticket


@transaction.atomic
def ticket_staff_close(*, staff: User, ticket_id: object) -> Ticket:
    ticket = _locked(ticket_id)
    before = ticket.status
    _close(ticket)
    audit_record(actor=staff, action="ticket.close", target=ticket, before={"status": before},
                 after={"status": ticket.status})  # fmt: skip
    return ticket


def _answers_tickets(user: User) -> bool:
    return user.is_active and user.is_staff and user.has_perm("support.change_ticket")


@transaction.atomic
def ticket_assign(*, staff: User, ticket_id: object, assignee: User | None) -> Ticket:
    """Give the ticket to a staff member who answers tickets (None: to nobody); the customer's next message is
    mailed to them."""
    if assignee is not None and not _answers_tickets(assignee):
        raise TicketError("%(name)s does not answer tickets.", name=assignee.get_username())
    ticket = _locked(ticket_id)
    before = ticket.assignee_id
    ticket.assignee = assignee
    ticket.save(update_fields=["assignee"])
    audit_record(actor=staff, action="ticket.assign", target=ticket, before={"assignee": before},
                 after={"assignee": ticket.assignee_id})  # fmt: skip
    return ticket


def ticket_read(*, ticket: Ticket, upto: int, staff: bool) -> None:
    """One side has seen the ticket's messages up to this id; the marker never moves back."""
    field = "staff_read_upto" if staff else "customer_read_upto"
    Ticket.objects.filter(pk=ticket.pk, **{f"{field}__lt": upto}).update(**{field: upto})


@transaction.atomic
def ticket_order_act(*, staff: User, ticket_id: object, order_id: object, action: str) -> str:
    """Staff refill, cancel or resend one of the ticket's orders, through the services the orders pages and admin
    use (a refill or cancel as the customer would ask it), recorded in the audit trail with the change; returns what
    happened, for the staff member."""
    ticket = Ticket.objects.filter(pk=record_id(ticket_id) or 0).first()
    order = ticket.orders.select_related("service").filter(pk=record_id(order_id) or 0).first() if ticket else None
    if ticket is None or order is None:
        raise TicketError("That order is not one of this ticket's.")
    if action == OrderAction.REFILL:
        refill = refill_request(user=order.user, order_id=order.pk)
        audit_record(actor=staff, action="order.refill", target=order, before={}, after={"refill": refill.pk},
                     note=f"from ticket {ticket.pk}")  # fmt: skip
        return f"Refill {refill.pk} of order {order.pk} is queued."
    if action == OrderAction.CANCEL:
        upstream = cancel_request(user=order.user, order_id=order.pk)
        after = {"cancel_request": upstream.pk if upstream else None}
        audit_record(actor=staff, action="order.cancel_request", target=order, before={}, after=after,
                     note=f"from ticket {ticket.pk}")  # fmt: skip
        if upstream is None:
            return f"Order {order.pk} was never sent: it is canceled and its charge is back in the customer's balance."
        return f"Cancel of order {order.pk} is asked of the provider; the refund follows its answer."
    if action == OrderAction.RESEND:
        if not order_resend(order_id=order.pk, actor=staff):
            raise OrderError(
                f"Order {order.pk} was not resent: only an unknown or held order that is not final can be."
            )
        return f"Order {order.pk} is queued to be sent again."
    raise TicketError("Unknown action.")


def _customer_mail(message: Message) -> bool:
    ticket, customer = message.ticket, message.ticket.customer
    if not customer.email:
        return False
    with translation.override(customer.language or settings.LANGUAGE_CODE):
        subject = gettext("New reply to your ticket %(id)s: %(subject)s") % {"id": ticket.pk, "subject": ticket.subject}
        body = render_to_string(
            "support/mail/staff_replied.txt",
            {
                "customer": customer,
                "ticket": ticket,
                "message": message,
                "url": f"{settings.PANEL_BASE_URL}{reverse('ticket', args=[ticket.pk])}",
            },
        )
    send_mail(subject, body, None, [customer.email])
    return True


def _staff_mail(message: Message) -> bool:
    ticket = message.ticket
    recipients = [ticket.assignee.email] if ticket.assignee and ticket.assignee.email else settings.SUPPORT_EMAIL
    if not recipients:
        return False
    first = not Message.objects.filter(ticket=ticket, pk__lt=message.pk).exists()
    what = "New ticket" if first else "Customer wrote in ticket"
    subject = f"[panel] {what} {ticket.pk} from {ticket.customer.get_username()}: {ticket.subject}"
    orders = ", ".join(str(pk) for pk in ticket.orders.order_by("pk").values_list("pk", flat=True)) or "none"
    body = (
        f"{ticket.get_kind_display()} · orders: {orders}\n\n{message.body}\n\n"
        f"Answer it in the admin: {admin_link('support_ticket_change', ticket.pk)}"
    )
    send_mail(subject, body, None, list(recipients))
    return True


def message_notify(*, message_id: int) -> bool:
    """Mail a message to the other side (a staff reply to the customer, in their language; a customer's message to
    the assignee, or to SUPPORT_EMAIL), once: claimed by a conditional UPDATE, released again when sending failed
    so that the sweep tries later. Returns whether a mail went out."""
    claimed = Message.objects.filter(pk=message_id, notified_at=None).update(notified_at=timezone.now())
    if not claimed:
        return False
    message = Message.objects.select_related("ticket__customer", "ticket__assignee").get(pk=message_id)
    try:
        return _customer_mail(message) if message.is_staff else _staff_mail(message)
    except Exception as exc:  # whatever the mail server or its connection raised: try again with the sweep
        Message.objects.filter(pk=message_id).update(notified_at=None)
        logger.warning("ticket mail of message %s not sent: %s: %s", message_id, type(exc).__name__, exc)
        return False
