"""How a notification reads, in the active language: one line for the list, and the email's subject and body."""

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext as _

from notifications.models import Notification
from orders.models import Order, Refill
from panel.formatting import money

Kind = Notification.Kind
Status = Order.Status


def notification_status_label(notification: Notification) -> str:
    """The final status, as the orders and refills pages name it."""
    if notification.kind == Kind.ORDER_ENDED:
        return str(Status(notification.status).label)
    return str(Refill.Status(notification.status).label)


def notification_headline(notification: Notification) -> str:
    facts = {"order": notification.order_id, "refund": money(notification.refund)}
    refunded = notification.refund > 0
    if notification.kind == Kind.REFILL_ENDED:
        if notification.status == Refill.Status.COMPLETED:
            return _("The refill of order %(order)s is completed.") % facts
        if notification.status == Refill.Status.REJECTED:
            return _("The refill of order %(order)s was rejected.") % facts
        return _("The refill of order %(order)s failed.") % facts
    if notification.status == Status.PARTIAL:
        if refunded:
            return _("Order %(order)s was partly delivered: %(refund)s for the rest is back in your balance.") % facts
        return _("Order %(order)s was partly delivered.") % facts
    if notification.status == Status.CANCELED:
        if refunded:
            return _("Order %(order)s is canceled: %(refund)s is back in your balance.") % facts
        return _("Order %(order)s is canceled.") % facts
    return _("Order %(order)s is completed.") % facts


def order_path(notification: Notification) -> str:
    """The customer's orders page showing this order (refills: the refills page)."""
    if notification.kind == Kind.REFILL_ENDED:
        return reverse("refills")
    return f"{reverse('orders')}?q={notification.order_id}"


def notification_subject(notification: Notification) -> str:
    facts = {"order": notification.order_id, "status": notification_status_label(notification)}
    if notification.kind == Kind.REFILL_ENDED:
        return _("Refill of order %(order)s: %(status)s") % facts
    return _("Order %(order)s: %(status)s") % facts


def notification_body(notification: Notification) -> str:
    """The plain-text email; its links are absolute when PANEL_BASE_URL is set."""
    context = {
        "notification": notification,
        "headline": notification_headline(notification),
        "status": notification_status_label(notification),
        "service": notification.order.service.name,
        "link": f"{settings.PANEL_BASE_URL}{order_path(notification)}",
        "account_link": f"{settings.PANEL_BASE_URL}{reverse('account')}",
    }
    return render_to_string("notifications/email.txt", context)
