"""Reads of tickets: a customer's own (always scoped to them), with their unread replies; a ticket's orders and what
may be done to them right now; who answers tickets; the mails still to send."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum

from django.contrib.auth.models import Permission
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from accounts.models import User
from orders.models import Order
from orders.selectors import customer_orders, orders_for_user
from orders.services.followups import cancel_allowed, refill_allowed
from orders.services.operators import RESENDABLE
from panel.ids import record_id
from support.models import CannedReply, Message, Ticket


class OrderAction(StrEnum):
    """What may be done to one of a ticket's orders from its page."""

    REFILL = "refill"
    CANCEL = "cancel"
    RESEND = "resend"


# What a refill or cancel question offers the customer to do themselves.
SELF_SERVICE: dict[str, OrderAction] = {Ticket.Kind.REFILL: OrderAction.REFILL, Ticket.Kind.CANCEL: OrderAction.CANCEL}
# The orders a new ticket offers to pick from: the customer's latest ones (and any they came from).
RECENT_ORDERS = 50
# A message's mail is sent again by the sweep while it is younger than this.
RESEND_WINDOW = timedelta(hours=1)


def _unread_replies() -> Q:
    return Q(messages__is_staff=True, messages__pk__gt=F("customer_read_upto"))


def tickets_of(*, customer: User) -> QuerySet[Ticket]:
    """The customer's tickets, latest activity first, each with how many staff replies they have not seen."""
    return (
        Ticket.objects.filter(customer=customer)
        .annotate(unread=Count("messages", filter=_unread_replies()))
        .order_by("-last_message_at", "-pk")
    )


def ticket_of(*, customer: User, ticket_id: object) -> Ticket | None:
    """The customer's own ticket with this id (as the client wrote it); else None."""
    return Ticket.objects.filter(pk=record_id(ticket_id) or 0, customer=customer).first()


def ticket_messages(*, ticket: Ticket) -> list[Message]:
    return list(ticket.messages.select_related("author").order_by("pk"))


def tickets_open_count(*, user: User) -> int:
    """The customer's tickets that are not closed (open or answered)."""
    return Ticket.objects.filter(customer=user, status__in=Ticket.UNFINISHED).count()


def tickets_unread_count(*, user: User) -> int:
    """How many of the customer's tickets have a staff reply they have not seen."""
    unread = Message.objects.filter(ticket=OuterRef("pk"), is_staff=True, pk__gt=OuterRef("customer_read_upto"))
    return Ticket.objects.filter(customer=user).filter(Exists(unread)).count()


@dataclass(frozen=True)
class TicketOrder:
    """One of a ticket's orders, with what may be done to it right now (the orders pages' own rules)."""

    order: Order
    actions: list[str] = field(default_factory=list)

    @property
    def can_refill(self) -> bool:
        return OrderAction.REFILL in self.actions

    @property
    def can_cancel(self) -> bool:
        return OrderAction.CANCEL in self.actions

    @property
    def can_resend(self) -> bool:
        return OrderAction.RESEND in self.actions


def _actions(order: Order) -> list[str]:
    refill_in_flight: bool = getattr(order, "refill_in_flight", False)
    cancel_in_flight: bool = getattr(order, "cancel_in_flight", False)
    actions: list[str] = []
    if refill_allowed(order, refill_in_flight=refill_in_flight):
        actions.append(OrderAction.REFILL)
    if cancel_allowed(order) and not cancel_in_flight:
        actions.append(OrderAction.CANCEL)
    if order.submission in RESENDABLE and order.upstream_id is None and not order.is_final:
        actions.append(OrderAction.RESEND)
    return actions


def orders_with_actions(*, customer: User, order_ids: Iterable[int]) -> list[TicketOrder]:
    """The customer's own orders among these ids, newest first, each with what may be done to it now."""
    orders = orders_for_user(user=customer).filter(pk__in=list(order_ids)).select_related("provider")
    return [TicketOrder(order=order, actions=_actions(order)) for order in orders]


def ticket_orders(*, ticket: Ticket) -> list[TicketOrder]:
    return orders_with_actions(customer=ticket.customer, order_ids=ticket.orders.values_list("pk", flat=True))


def self_service_offers(*, customer: User, kind: str, order_ids: Iterable[int]) -> list[TicketOrder]:
    """For a refill or cancel question, the orders among these that the customer can refill or cancel themselves
    right now, instead of waiting for staff; none for other questions."""
    wanted = SELF_SERVICE.get(kind)
    if wanted is None:
        return []
    rows = orders_with_actions(customer=customer, order_ids=order_ids)
    return [TicketOrder(order=row.order, actions=[wanted]) for row in rows if wanted in row.actions]


def recent_orders(*, customer: User, including: Iterable[int] = ()) -> list[Order]:
    """The customer's latest orders to pick from, and their own orders among `including` however old."""
    own = customer_orders(user=customer).select_related("service").order_by("-pk")
    latest = list(own[:RECENT_ORDERS])
    shown = {order.pk for order in latest}
    older = [pk for pk in including if pk not in shown]
    if older:
        latest += list(own.filter(pk__in=older))
    return latest


def ticket_handlers() -> QuerySet[User]:
    """Active staff who answer tickets (superusers, and whoever has support.change_ticket), by name."""
    permission = Permission.objects.filter(content_type__app_label="support", codename="change_ticket")
    may = Q(is_superuser=True) | Q(user_permissions__in=permission) | Q(groups__permissions__in=permission)
    handlers = User.objects.filter(may, is_staff=True, is_active=True).values("pk")
    return User.objects.filter(pk__in=handlers).order_by("username")


def canned_replies() -> QuerySet[CannedReply]:
    return CannedReply.objects.filter(is_active=True).order_by("title")


def messages_unnotified() -> list[int]:
    """Messages of the last RESEND_WINDOW whose mail has not gone out (a failed send, a task lost after commit),
    oldest first; a minute's grace leaves the task enqueued on commit its turn."""
    now = timezone.now()
    unsent = Message.objects.filter(
        notified_at=None, created_at__gte=now - RESEND_WINDOW, created_at__lt=now - timedelta(minutes=1)
    )
    return list(unsent.order_by("pk").values_list("pk", flat=True)[:500])
