"""The customer's support pages: their tickets, a new ticket (offering a refill or cancel they can do themselves
right away), and one ticket's conversation, where they reply or close it. Pages over support.services."""

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.http import signed_in
from panel.ids import record_id
from support.models import BODY_MAX_LENGTH, SUBJECT_MAX_LENGTH, Ticket
from support.selectors import (
    SELF_SERVICE,
    recent_orders,
    self_service_offers,
    ticket_messages,
    ticket_of,
    ticket_orders,
    tickets_of,
)
from support.services import (
    TicketError,
    TicketNotFound,
    TicketRateLimited,
    ticket_customer_close,
    ticket_customer_reply,
    ticket_draft_clean,
    ticket_open,
    ticket_read,
)

PER_PAGE = 25
Kind = Ticket.Kind


def _kind_choices() -> list[Any]:
    order_kinds = [(kind.value, kind.label) for kind in Kind if kind in Ticket.ORDER_KINDS]
    return [
        ("", _("Choose…")),
        (_("A problem with an order"), order_kinds),
        (Kind.PAYMENT.value, Kind.PAYMENT.label),
        (Kind.OTHER.value, Kind.OTHER.label),
    ]


class TicketForm(forms.Form):
    """The fields as typed: ticket_draft_clean checks them (and the orders, which the page lists itself), and its
    error lands next to its field."""

    subject = forms.CharField(
        label=gettext_lazy("Subject"), required=False,
        widget=forms.TextInput(attrs={"maxlength": SUBJECT_MAX_LENGTH, "autocomplete": "off"}),
    )  # fmt: skip
    kind = forms.CharField(label=gettext_lazy("What is it about?"), required=False, widget=forms.Select)
    body = forms.CharField(
        label=gettext_lazy("Message"), required=False, strip=False,
        widget=forms.Textarea(attrs={"rows": 8, "maxlength": BODY_MAX_LENGTH}),
        help_text=gettext_lazy("Plain text. For an order, tell us what you expected and what happened."),
    )  # fmt: skip

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["kind"].widget.choices = _kind_choices()


def _apply(form: TicketForm, exc: TicketError) -> str:
    """Put the error next to its field; an error of no field (or of the orders list) is returned for the page."""
    if exc.field in form.fields:
        form.add_error(exc.field, exc.translated())
        return ""
    return exc.translated()


@login_required
def ticket_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(tickets_of(customer=signed_in(request)), PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "support/list.html", {"page": page})


def _chosen_ids(values: list[str]) -> list[int]:
    return [order_id for order_id in map(record_id, values) if order_id is not None]


@login_required
def ticket_new(request: HttpRequest) -> HttpResponse:
    """GET shows the form (`?order=ID` ticks that order, `?kind=` chooses the type); POST opens the ticket, unless
    it asks for a refill or cancel the customer can do themselves right now: then the page offers that first."""
    user = signed_in(request)
    source = request.POST if request.method == "POST" else request.GET
    raw_orders = source.getlist("orders") or source.getlist("order")
    chosen = _chosen_ids(raw_orders)
    kind = source.get("kind", "")
    form = TicketForm(request.POST if request.method == "POST" else None, initial={"kind": kind})
    errors = {"orders": "", "general": ""}
    offers = []
    status = 200
    if request.method == "POST":
        fields = {"subject": request.POST.get("subject", ""), "kind": kind, "body": request.POST.get("body", "")}
        try:
            draft = ticket_draft_clean(customer=user, order_ids=raw_orders, **fields)
            if not request.POST.get("send_anyway"):
                offers = self_service_offers(customer=user, kind=draft.kind, order_ids=draft.order_ids)
            if not offers:
                ticket = ticket_open(customer=user, order_ids=raw_orders, **fields)
                messages.success(request, _("Your ticket is sent. We answer here, and tell you by email."))
                return redirect("ticket", ticket.pk)
        except TicketRateLimited as exc:
            errors["general"], status = exc.translated(), 429
        except TicketError as exc:
            errors["orders" if exc.field == "orders" else "general"] = _apply(form, exc)
    elif kind in SELF_SERVICE:
        offers = self_service_offers(customer=user, kind=kind, order_ids=chosen)
    context = {
        "form": form,
        "orders": recent_orders(customer=user, including=chosen),
        "chosen": set(chosen),
        "order_kinds": " ".join(Ticket.ORDER_KINDS),
        "errors": errors,
        "offers": offers,
        "offer_kind": SELF_SERVICE.get(kind, ""),
    }
    return render(request, "support/new.html", context, status=status)


@login_required
def ticket_page(request: HttpRequest, ticket_id: int) -> HttpResponse:
    """The conversation; POST writes a reply (`do=reply`) or closes the ticket (`do=close`)."""
    user = signed_in(request)
    ticket = ticket_of(customer=user, ticket_id=ticket_id)
    if ticket is None:
        raise Http404
    reply, reply_error, status = "", "", 200
    if request.method == "POST":
        try:
            if request.POST.get("do") == "close":
                ticket_customer_close(customer=user, ticket_id=ticket.pk)
                messages.success(request, _("The ticket is closed. Writing in it again reopens it."))
            else:
                reply = request.POST.get("body", "")
                ticket_customer_reply(customer=user, ticket_id=ticket.pk, body=reply)
                messages.success(request, _("Your message is sent."))
            return redirect("ticket", ticket.pk)
        except TicketNotFound:
            raise Http404 from None
        except TicketRateLimited as exc:
            reply_error, status = exc.translated(), 429
        except TicketError as exc:
            reply_error = exc.translated()
    conversation = ticket_messages(ticket=ticket)
    seen_upto = ticket.customer_read_upto
    if conversation:
        ticket_read(ticket=ticket, upto=conversation[-1].pk, staff=False)
    offer = SELF_SERVICE.get(ticket.kind, "")
    orders = [(row, offer if offer in row.actions else "") for row in ticket_orders(ticket=ticket)]
    context = {
        "ticket": ticket,
        "conversation": conversation,
        "seen_upto": seen_upto,
        "orders": orders,
        "offered": offer if any(offered for _, offered in orders) else "",
        "reply": reply,
        "reply_error": reply_error,
        "body_max": BODY_MAX_LENGTH,
    }
    return render(request, "support/ticket.html", context, status=status)
