"""Django admin for support: the tickets list (oldest waiting first) and each ticket's page, where staff read the
conversation, answer (with a canned reply or not), assign, close, and refill, cancel or resend its orders; and the
canned replies. Every write goes through support.services (and orders.services for the orders)."""

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Case, F, QuerySet, Value, When
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.text import Truncator
from django.utils.timesince import timesince

from accounts.http import signed_in
from orders.admin import RESEND_WARNING
from panel.errors import ApplicationError
from panel.ids import record_id
from support.models import CannedReply, Ticket
from support.selectors import (
    OrderAction,
    canned_replies,
    ticket_handlers,
    ticket_messages,
    ticket_orders,
    tickets_open_count,
)
from support.services import (
    ticket_assign,
    ticket_order_act,
    ticket_read,
    ticket_staff_close,
    ticket_staff_reply,
)

Status = Ticket.Status


class AssigneeFilter(admin.SimpleListFilter):
    title = "assignee"
    parameter_name = "assignee"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        handlers = [(str(user.pk), user.get_username()) for user in ticket_handlers()]
        return [("me", "Me"), ("nobody", "Nobody"), *handlers]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value == "me":
            return queryset.filter(assignee=request.user.pk)
        if value == "nobody":
            return queryset.filter(assignee=None)
        if value and (assignee_id := record_id(value)) is not None:
            return queryset.filter(assignee_id=assignee_id)
        return queryset


def _reply_text(request: HttpRequest) -> str:
    """The reply as typed, with the chosen canned reply after it: without the page's script, picking one and
    sending adds its text (the script puts it in the box instead, and clears the choice)."""
    body = request.POST.get("body", "")
    canned = canned_replies().filter(pk=record_id(request.POST.get("canned", "")) or 0).first()
    if canned is None:
        return body
    return f"{body.rstrip()}\n\n{canned.body}" if body.strip() else canned.body


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin[Ticket]):
    list_display = ["id", "subject_shown", "customer", "kind", "status", "assignee", "waiting", "last_message_at"]
    list_display_links = ["id", "subject_shown"]
    list_filter = ["status", "kind", AssigneeFilter]
    list_select_related = ["customer", "assignee"]
    search_fields = ["=id", "subject", "customer__username", "customer__email", "=orders__id"]
    actions = None

    def get_ordering(self, request: HttpRequest) -> list[Any]:
        # Open tickets first, the one waiting longest at the top; then the others, latest activity first.
        return [
            Case(When(status=Status.OPEN, then=Value(0)), default=Value(1)).asc(),
            F("waiting_since").asc(nulls_last=True),
            F("last_message_at").desc(),
        ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # customers open tickets

    def has_delete_permission(self, request: HttpRequest, obj: Ticket | None = None) -> bool:
        return False

    @admin.display(description="subject", ordering="subject")
    def subject_shown(self, obj: Ticket) -> str:
        return Truncator(obj.subject).chars(70)

    @admin.display(description="waiting since", ordering="waiting_since")
    def waiting(self, obj: Ticket) -> str:
        if obj.waiting_since is None:
            return "—"
        return f"{timezone.localtime(obj.waiting_since):%Y-%m-%d %H:%M} ({timesince(obj.waiting_since)})"

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """The ticket's own page instead of a model form: staff change a ticket only through its services."""
        ticket = self.get_object(request, unquote(object_id))
        if ticket is None:
            return super().change_view(request, object_id, form_url, extra_context)  # the admin's "no such ticket"
        if not self.has_view_or_change_permission(request, ticket):
            raise PermissionDenied
        if request.method == "POST":
            return self._act(request, ticket)
        return self._page(request, ticket)

    def _act(self, request: HttpRequest, ticket: Ticket) -> HttpResponse:
        staff, do = signed_in(request), request.POST.get("do", "")
        needs = {
            "reply": "support.add_message",
            "assign": "support.change_ticket",
            "assign_me": "support.change_ticket",
            "close": "support.change_ticket",
            **{action.value: "orders.change_order" for action in OrderAction},
        }
        if do not in needs or not staff.has_perm(needs[do]):
            raise PermissionDenied
        try:
            if do == "reply":
                ticket_staff_reply(staff=staff, ticket_id=ticket.pk, body=_reply_text(request))
                messages.success(request, "Your reply is sent; the customer is told by email.")
            elif do == "close":
                ticket_staff_close(staff=staff, ticket_id=ticket.pk)
                messages.success(request, "The ticket is closed.")
            elif do in ("assign", "assign_me"):
                chosen = request.POST.get("assignee", "")
                assignee = staff if do == "assign_me" else ticket_handlers().filter(pk=record_id(chosen) or 0).first()
                if do == "assign" and chosen and assignee is None:
                    raise ApplicationError("Choose a staff member who answers tickets.")
                ticket = ticket_assign(staff=staff, ticket_id=ticket.pk, assignee=assignee)
                name = ticket.assignee.get_username() if ticket.assignee else "nobody"
                messages.success(request, f"The ticket is assigned to {name}.")
            else:
                done = ticket_order_act(staff=staff, ticket_id=ticket.pk, order_id=request.POST.get("order"), action=do)
                messages.success(request, done)
        except ApplicationError as exc:
            if do == "reply":
                return self._page(request, ticket, reply=request.POST.get("body", ""), reply_error=exc.message)
            messages.error(request, exc.message)
        return HttpResponseRedirect(request.path)

    def _page(self, request: HttpRequest, ticket: Ticket, *, reply: str = "", reply_error: str = "") -> HttpResponse:
        user = request.user
        conversation = ticket_messages(ticket=ticket)
        seen_upto = ticket.staff_read_upto
        may_reply = user.has_perm("support.add_message")
        if conversation and may_reply:
            ticket_read(ticket=ticket, upto=conversation[-1].pk, staff=True)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Ticket {ticket.pk}",
            "subtitle": ticket.subject,
            "opts": self.opts,
            "original": ticket,
            "ticket": ticket,
            "customer": ticket.customer,
            "customer_open_tickets": tickets_open_count(user=ticket.customer),
            "conversation": conversation,
            "seen_upto": seen_upto,
            "orders": ticket_orders(ticket=ticket),
            "canned": canned_replies(),
            "handlers": ticket_handlers(),
            "may_reply": may_reply,
            "may_change": user.has_perm("support.change_ticket"),
            "may_operate": user.has_perm("orders.change_order"),
            "may_see_customers": user.has_perm("accounts.view_user"),
            "reply": reply,
            "reply_error": reply_error,
            "resend_warning": RESEND_WARNING,
            "customer_orders_url": f"{reverse('admin:orders_order_changelist')}?user__id__exact={ticket.customer_id}",
        }
        return TemplateResponse(request, "admin/support/ticket_page.html", context)


@admin.register(CannedReply)
class CannedReplyAdmin(admin.ModelAdmin[CannedReply]):
    """Ready answers, plain text: staff pick one on a ticket's page and may edit it before sending."""

    list_display = ["title", "is_active", "updated_at"]
    list_filter = ["is_active"]
    search_fields = ["title", "body"]
