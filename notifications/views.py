"""The customer's notifications page, and marking them read."""

from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.http import signed_in
from notifications.models import Notification
from notifications.selectors import notifications_for_user
from notifications.services import notifications_mark_read
from notifications.texts import notification_headline, notification_status_label, order_path
from panel.ids import record_id

PER_PAGE = 50


@dataclass(frozen=True)
class NotificationRow:
    notification: Notification
    headline: str
    status_label: str
    path: str


@login_required
def notification_list(request: HttpRequest) -> HttpResponse:
    """Newest first, the unread ones marked; opening the page leaves them unread (the button marks them read)."""
    notifications = notifications_for_user(user=signed_in(request))
    page = Paginator(notifications, PER_PAGE).get_page(request.GET.get("page"))
    shown: list[Notification] = list(page)
    rows = [NotificationRow(n, notification_headline(n), notification_status_label(n), order_path(n)) for n in shown]
    # What "Mark all as read" marks: up to the newest shown, never one that arrives after the page was drawn.
    newest = shown[0].pk if shown and page.number == 1 else notifications.values_list("pk", flat=True).first()
    return render(request, "notifications/list.html", {"page": page, "rows": rows, "newest": newest})


@require_POST
@login_required
def notifications_read(request: HttpRequest) -> HttpResponse:
    up_to = record_id(request.POST.get("up_to", ""))
    if up_to is None:
        messages.error(request, _("Nothing was marked as read: reload the page and try again."))
    else:
        notifications_mark_read(user=signed_in(request), up_to=up_to)
        messages.success(request, _("Your notifications are marked as read."))
    return redirect("notifications")
