"""New order, its live price, and mass order: pages over orders.services (the rules live there)."""

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from itertools import groupby
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import formats
from django.utils.html import format_html, format_html_join, json_script
from django.utils.safestring import SafeString
from django.utils.translation import get_language, gettext_lazy, gettext_noop
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from accounts.http import signed_in
from accounts.models import User
from billing.selectors import wallet_balance
from catalog.selectors import catalog_version, customer_catalog
from orders.models import Order
from orders.services.placement import order_place_once, order_quote
from panel.errors import ApplicationError
from panel.formatting import amount, duration, money
from panel.ids import record_id
from upstream.service_types import ORDER_PARAMS, SERVICE_TYPES

# How each order parameter reads on the page; `lines` ones are one entry per line.
FIELDS: dict[str, tuple[Any, Any, bool]] = {
    "link": (gettext_lazy("Link"), gettext_lazy("The page, post or profile to deliver to."), False),
    "quantity": (gettext_lazy("Quantity"), None, False),
    "comments": (gettext_lazy("Comments"), gettext_lazy("One comment per line; each line is one unit."), True),
    "usernames": (gettext_lazy("Usernames"), gettext_lazy("One username per line."), True),
    "hashtags": (gettext_lazy("Hashtags"), gettext_lazy("One hashtag per line."), True),
    "hashtag": (gettext_lazy("Hashtag"), None, False),
    "username": (gettext_lazy("Username"), None, False),
    "media": (gettext_lazy("Media link"), None, False),
    "answer_number": (gettext_lazy("Answer number"), None, False),
    "groups": (gettext_lazy("Groups"), gettext_lazy("One group per line."), True),
    "country": (gettext_lazy("Country"), gettext_lazy("Country code or name (optional)."), False),
    "device": (gettext_lazy("Device"),
               gettext_lazy("1 desktop, 2 Android, 3 iOS, 4 mixed mobile, 5 mixed all (optional)."), False),
    "type_of_traffic": (gettext_lazy("Type of traffic"),
                        gettext_lazy("1 Google keyword, 2 referrer, 3 blank referrer (optional)."), False),
    "google_keyword": (gettext_lazy("Google keyword"), None, False),
    "referring_url": (gettext_lazy("Referring URL"), None, False),
    "runs": (gettext_lazy("Runs"), gettext_lazy("How many deliveries of the quantity."), False),
    "interval": (gettext_lazy("Interval (minutes)"), gettext_lazy("Minutes between two runs."), False),
}  # fmt: skip
MASS_LINE_LIMIT = 500
BATCH = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True)
class Offer:
    """The catalog as the new-order page shows it at one discount and in one language: built once, then cached."""

    rows: dict[int, dict[str, Any]]  # by service id, in the catalog's order
    options: SafeString  # the service select's <optgroup>s, nothing selected
    data: SafeString  # the rows as a JSON <script> for the page's script


OPTION = '<option value="{id}" data-category="{category}">{id} — {name} — {rate}</option>'
CHOSEN = '<option value="{id}" data-category="{category}" selected>{id} — {name} — {rate}</option>'
# A shared cache (Redis) drops an offer at once (a new catalog version); this bounds a per-process cache.
OFFER_SECONDS = 600


def _offer(user: User) -> Offer:
    key = f"new-order:{catalog_version()}:{user.discount_percent}:{get_language()}"
    offer: Offer | None = cache.get(key)
    if offer is None:
        rows = _catalog(user)
        groups = groupby(rows, key=lambda row: row["category"])
        options = format_html_join(
            "",
            '<optgroup label="{}">{}</optgroup>',
            ((category, format_html_join("", OPTION, members)) for category, members in groups),
        )
        offer = Offer(rows={row["id"]: row for row in rows}, options=options, data=json_script(rows, "catalog-data"))
        cache.set(key, offer, OFFER_SECONDS)
    return offer


def _catalog(user: User) -> list[dict[str, Any]]:
    """The services for sale as the new-order page shows them, at this customer's rates."""
    return [
        {
            "id": row["pk"],
            "name": row["name"],
            "category": row["category"],
            "type": row["type"],
            "rate": amount(row["rate"]),
            "min": formats.number_format(row["min"], force_grouping=True),
            "max": formats.number_format(row["max"], force_grouping=True),
            "refill": row["refill"],
            "cancel": row["cancel"],
            "dripfeed": row["dripfeed"],
            "description": row["description"],
            "average": duration(row["average_seconds"]),
            "fields": SERVICE_TYPES[row["type"]].params(dripfeed=row["dripfeed"]),
        }
        for row in customer_catalog(user=user)
        if row["orderable"]  # a type we cannot take orders for yet is not offered
    ]


def _params(data: Any) -> dict[str, str]:
    params = {name: str(data.get(name, "")) for name in ORDER_PARAMS if data.get(name, "") != ""}
    if not data.get("dripfeed"):
        params.pop("runs", None)
        params.pop("interval", None)
    return params


@login_required
def order_new(request: HttpRequest, *, home: Mapping[str, object] | None = None) -> HttpResponse:
    """The order form; on the home page under the customer's summary strip (`home`: what it shows)."""
    user = signed_in(request)
    offer = _offer(user)
    catalog = list(offer.rows.values())
    source = request.POST if request.method == "POST" else request.GET
    chosen = record_id(source.get("service", ""))
    service = offer.rows.get(chosen or 0)
    errors: dict[str, str] = {}
    general = ""
    quote_text = ""
    if request.method == "POST":
        params = _params(request.POST)
        try:
            # The form's one-time key: a double click or a resent form places the order once.
            order_key = request.POST.get("order_key", "")
            key = f"web:{order_key if BATCH.fullmatch(order_key) else uuid.uuid4().hex}"
            order, placed = order_place_once(
                user=user, service_id=source.get("service", ""), params=params, key=key, origin=Order.Origin.WEB
            )
        except ApplicationError as exc:
            if exc.field in FIELDS or exc.field == "service":
                errors[exc.field or ""] = exc.translated()
            else:
                general = exc.translated()
            quote_text = _charge_text(user, source.get("service", ""), params)
        else:
            facts = {"id": order.pk, "charge": money(order.charge), "balance": money(wallet_balance(user_id=user.pk))}
            if placed:
                text = _("Order %(id)s is placed: %(charge)s charged. Your balance is now %(balance)s.") % facts
            else:
                text = _("Order %(id)s was already placed with this form; nothing more was charged.") % facts
            messages.success(request, text)
            return redirect(f"{reverse('order-new')}?service={order.service_id}")
    categories = list(dict.fromkeys(row["category"] for row in catalog))
    options = offer.options
    if service:
        # For browsers without the script (it rebuilds the list): the chosen service first, selected.
        options = format_html("{}{}", format_html(CHOSEN, **service), offer.options)
    context = {
        "catalog": catalog,
        "options": options,
        "catalog_data": offer.data,
        "categories": categories,
        "service": service,
        "category": service["category"] if service else (categories[0] if categories else ""),
        "fields": _field_rows(service, request.POST if request.method == "POST" else {}, errors),
        "errors": errors,
        "general_error": general,
        "dripfeed_on": bool(request.POST.get("dripfeed")),
        "order_key": uuid.uuid4().hex,
        "quote": quote_text,
        "home": home,
        "texts": {
            "limits": _("Min %(min)s — max %(max)s"),
            "short": _("More than your balance: add funds first."),
            "units": _("%(count)s units in total"),
            "choose": _("Choose a service"),
        },
    }
    return render(request, "orders/new.html", context)


def _field_rows(service: dict[str, Any] | None, data: Any, errors: dict[str, str]) -> list[dict[str, Any]]:
    wanted = set(service["fields"]) if service else {"link", "quantity"}
    return [
        {
            "name": name,
            "label": label,
            "help": help_text,
            "lines": lines,
            "value": data.get(name, ""),
            "error": errors.get(name, ""),
            "shown": name in wanted,
            "dripfeed": name in ("runs", "interval"),
        }
        for name, (label, help_text, lines) in FIELDS.items()
    ]


def _charge_text(user: User, service_id: object, params: dict[str, str]) -> str:
    try:
        return money(order_quote(user=user, service_id=service_id, params=params, draft=True).charge)
    except ApplicationError:
        return ""


@require_GET
@login_required
def order_quote_json(request: HttpRequest) -> JsonResponse:
    """The live charge while an order is typed: the same checks and pricing as placing it, nothing moves."""
    user = signed_in(request)
    try:
        service_id, params = request.GET.get("service", ""), _params(request.GET)
        quote = order_quote(user=user, service_id=service_id, params=params, draft=True)
    except ApplicationError as exc:
        return JsonResponse({"ok": False, "error": exc.translated(), "field": exc.field})
    return JsonResponse(
        {
            "ok": True,
            "charge": money(quote.charge),
            "quantity": quote.spec.quantity,
            "affordable": quote.charge <= wallet_balance(user_id=user.pk),
        }
    )


@dataclass
class MassLine:
    number: int
    text: str
    service: str = ""
    link: str = ""
    quantity: str = ""
    charge: Decimal | None = None
    service_name: str = ""
    units: int | None = None
    repeat: bool = False  # placed by an earlier sending of the same checked list
    error: str = ""
    order: Order | None = None


BAD_LINE = gettext_noop("Write the line as: service ID | link | quantity")


def _mass_lines(text: str) -> list[MassLine]:
    lines = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        line = MassLine(number=number, text=raw.strip())
        parts = [part.strip() for part in raw.split("|")]
        if len(parts) != 3:
            line.error = _(BAD_LINE)
        else:
            line.service, line.link, line.quantity = parts
        lines.append(line)
    return lines


def _mass_params(line: MassLine) -> dict[str, str]:
    return {"link": line.link, "quantity": line.quantity}


@login_required
def order_mass(request: HttpRequest) -> HttpResponse:
    """Check every line first (nothing moves), then place the valid ones, each once even if sent twice."""
    user = signed_in(request)
    text = request.POST.get("orders", "")
    step = request.POST.get("step", "")
    lines = _mass_lines(text) if request.method == "POST" else []
    general = ""
    if request.method == "POST" and not lines:
        general = _("Enter at least one order, one per line.")
    elif len(lines) > MASS_LINE_LIMIT:
        general = _("At most %(count)s orders at once.") % {"count": MASS_LINE_LIMIT}
    elif step == "place" and not BATCH.fullmatch(request.POST.get("batch", "")):
        general = _("Check the orders first, then place them.")
    elif step == "place":
        batch = request.POST["batch"]
        for line in lines:
            if line.error:
                continue
            try:
                order, placed = order_place_once(
                    user=user,
                    service_id=line.service,
                    params=_mass_params(line),
                    key=f"mass:{batch}:{line.number}",
                    origin=Order.Origin.WEB,
                )
                line.order, line.charge, line.units, line.repeat = order, order.charge, order.quantity, not placed
                line.service_name = order.service.name
            except ApplicationError as exc:
                line.error = exc.translated()
    else:
        for line in lines:
            if line.error:
                continue
            try:
                quote = order_quote(user=user, service_id=line.service, params=_mass_params(line))
                line.charge, line.service_name, line.units = quote.charge, quote.service.name, quote.spec.quantity
            except ApplicationError as exc:
                line.error = exc.translated()
    valid = [line for line in lines if not line.error]
    total = sum((line.charge or Decimal(0) for line in valid if not line.repeat), Decimal(0))
    context = {
        "text": text,
        "lines": lines,
        "step": "placed" if step == "place" and not general else ("checked" if lines and not general else ""),
        "valid_count": len(valid),
        "new_count": sum(not line.repeat for line in valid),
        "repeat_count": sum(line.repeat for line in valid),
        "invalid_count": len(lines) - len(valid),
        "total": total,
        "short": total > wallet_balance(user_id=user.pk),
        "batch": uuid.uuid4().hex,
        "general_error": general,
        "limit": MASS_LINE_LIMIT,
    }
    return render(request, "orders/mass.html", context)
