"""Django admin for providers, categories and services: what is sold, and at what price."""

import re
from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.defaultfilters import linebreaksbr
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join

from accounts.http import signed_in
from accounts.models import User
from backoffice.filters import ProviderAttentionFilter, ServiceAttentionFilter
from catalog.models import Category, Provider, Route, Service
from catalog.services.listings import (
    ADMIN_FIELDS,
    MANUAL_FIELDS,
    category_save,
    manual_service_create,
    service_save,
    services_delete,
    services_disable,
    services_enable,
    services_set_markup,
)
from catalog.services.providers import (
    KEY_AGAIN,
    ProviderError,
    provider_check,
    provider_create,
    provider_update,
)
from catalog.services.routes import RouteError, priority_parse, route_add, routes_update
from catalog.services.sync import catalog_sync
from panel.admin import action_confirmation
from panel.ids import record_id
from upstream.service_types import SUPPORTED_TYPES


def _report_disabled(request: HttpRequest, disabled: list[Service]) -> None:
    if disabled:
        names = "; ".join(f"{s.name} (#{s.pk})" for s in disabled[:20])
        messages.warning(request, f"Disabled {len(disabled)} service(s) whose fixed price is below cost: {names}")


class ProviderForm(forms.ModelForm[Provider]):
    """Validating this form saves it through provider_create or provider_update: whether the provider answers
    with this URL and key is part of validation, so a refusal is an error on the page and nothing is saved."""

    api_url = forms.URLField(
        label="API URL", max_length=500, assume_scheme="https", widget=forms.URLInput(attrs={"size": 60})
    )
    api_key = forms.CharField(
        label="API key",
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Never shown again once saved. Leave blank to keep the current key.",
    )

    class Meta:
        model = Provider
        fields = [
            "name", "api_url", "api_key", "currency", "exchange_rate", "markup_percent", "is_active",
            "low_balance_threshold",
        ]  # fmt: skip

    # Who saves it, for the audit trail: ProviderAdmin.get_form sets it from the request.
    actor: User | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A blank key means "keep the current one", so only a typed key counts as a change.
        self.initial["api_key"] = ""
        self.disabled_below_cost: list[Service] = []

    def clean_api_key(self) -> str:
        key: str = self.cleaned_data["api_key"].strip()
        if key:
            return key
        if self.instance.pk is None:
            raise forms.ValidationError("Enter the provider's API key.")
        # The stored key goes to whatever the URL points at: only someone who knows it may move it.
        if self.cleaned_data.get("api_url", self.instance.api_url) != self.instance.api_url:
            raise forms.ValidationError(KEY_AGAIN)
        return self.instance.api_key

    def clean_currency(self) -> str:
        currency: str = self.cleaned_data["currency"].strip().upper()
        return currency

    def full_clean(self) -> None:
        super().full_clean()
        if not self.is_bound or self.errors:
            return
        try:
            if self.instance.pk is None:
                fields = {name: self.cleaned_data[name] for name in self.Meta.fields}
                self.instance = provider_create(**fields, actor=self.actor)
            else:
                self.disabled_below_cost = provider_update(
                    provider=self.instance, fields=self.changed_data, actor=self.actor
                )
        except ProviderError as exc:
            self.add_error(None, exc.message)
        except ValidationError as exc:
            # Valid a moment ago, refused by the model now (another admin took the name meanwhile).
            self.add_error(None, " ".join(exc.messages))
        except Provider.DoesNotExist:
            self.add_error(None, "This provider was deleted meanwhile.")


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin[Provider]):
    form = ProviderForm
    list_display = [
        "name",
        "api_url",
        "key",
        "currency",
        "exchange_rate",
        "markup_percent",
        "is_active",
        "balance_display",
        "service_count",
        "last_sync",
    ]
    list_filter = ["is_active", ProviderAttentionFilter]
    search_fields = ["name", "api_url"]
    readonly_fields = ["key", "balance_display", "balance_checked_at", "last_sync", "last_sync_message_text"]
    actions = ["test_connection", "sync_now"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Provider]:
        return super().get_queryset(request).annotate(service_total=Count("services"))

    def get_form(self, request: Any, obj: Provider | None = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        return type(form.__name__, (form,), {"actor": signed_in(request)})

    def get_fieldsets(self, request: HttpRequest, obj: Provider | None = None) -> Any:
        main_fields = ["name", "api_url", "api_key", "currency", "exchange_rate", "markup_percent"]
        main = (None, {"fields": [*main_fields, "low_balance_threshold"]})
        if obj is None:
            return [main, (None, {"fields": ["is_active"]})]
        status_fields = ["key", "is_active", "balance_display", "balance_checked_at", "last_sync"]
        status = ("Status", {"fields": [*status_fields, "last_sync_message_text"]})
        return [main, status]

    @admin.display(description="API key")
    def key(self, obj: Provider) -> str:
        return obj.masked_key

    @admin.display(description="balance")
    def balance_display(self, obj: Provider) -> str:
        if obj.balance is None:
            return "—"
        return f"{obj.balance} {obj.balance_currency or obj.currency}"

    @admin.display(description="services", ordering="service_total")
    def service_count(self, obj: Provider) -> int:
        return getattr(obj, "service_total", 0)

    @admin.display(description="last sync")
    def last_sync(self, obj: Provider) -> str:
        if obj.last_sync_at is None:
            return "never"
        outcome = "ok" if obj.last_sync_ok else "FAILED"
        return f"{outcome}, {obj.last_sync_at:%Y-%m-%d %H:%M}"

    @admin.display(description="last sync outcome")
    def last_sync_message_text(self, obj: Provider) -> str:
        # Line breaks kept without an inline style, which the Content-Security-Policy refuses.
        return linebreaksbr(obj.last_sync_message or "—", autoescape=True)

    def save_model(self, request: HttpRequest, obj: Provider, form: ProviderForm, change: bool) -> None:
        # The form saved the provider through the services while it was validated.
        _report_disabled(request, form.disabled_below_cost)

    @admin.action(description="Test connection (ask for the balance)", permissions=["change"])
    def test_connection(self, request: HttpRequest, queryset: QuerySet[Provider]) -> None:
        for provider in queryset:
            try:
                balance = provider_check(provider=provider)
            except ProviderError as exc:
                messages.error(request, exc.message)
            else:
                messages.success(request, f"{provider.name}: connected, balance {balance.amount} {balance.currency}.")

    @admin.action(description="Sync catalog now", permissions=["change"])
    def sync_now(self, request: HttpRequest, queryset: QuerySet[Provider]) -> None:
        for provider in queryset:
            result = catalog_sync(provider=provider)
            level = messages.SUCCESS if result.ok else messages.ERROR
            if result.ok and (result.skipped or result.disabled_below_cost):
                level = messages.WARNING
            messages.add_message(request, level, f"{provider.name}: {result.summary()}")


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin[Category]):
    list_display = ["name", "position", "is_active", "markup_percent", "service_count", "source_name"]
    list_editable = ["position", "is_active", "markup_percent"]
    search_fields = ["name", "source_name"]
    list_filter = ["is_active"]
    readonly_fields = ["source_name"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Category]:
        return super().get_queryset(request).annotate(service_total=Count("services"))

    @admin.display(description="services", ordering="service_total")
    def service_count(self, obj: Category) -> int:
        return getattr(obj, "service_total", 0)

    def save_model(self, request: HttpRequest, obj: Category, form: Any, change: bool) -> None:
        _report_disabled(request, category_save(category=obj, fields=form.changed_data, actor=signed_in(request)))


class MarkupForm(forms.Form):
    markup_percent = forms.DecimalField(
        label="Markup %",
        required=False,
        min_value=Decimal(0),
        max_digits=7,
        decimal_places=2,
        help_text="Blank: inherit the category's (or provider's, or the default) markup.",
    )


SERVICE_COLUMNS = ["Id", "Name", "Markup %", "Fixed rate"]
# The service page shows this many of its latest prices (price_on reads the whole history).
PRICE_HISTORY_SHOWN = 20


def _service_row(service: Service) -> list[object]:
    return [service.pk, service.name, service.markup_percent, service.fixed_rate]


class ServiceAdminForm(forms.ModelForm[Service]):
    class Meta:
        model = Service
        fields = ADMIN_FIELDS


class ManualServiceForm(forms.ModelForm[Service]):
    """A service the panel fulfils itself: no provider's catalog gives its type, limits or cost, the admin does."""

    type = forms.ChoiceField(choices=[(name, name) for name in SUPPORTED_TYPES], initial="Default")

    class Meta:
        model = Service
        fields = (*ADMIN_FIELDS, *MANUAL_FIELDS)
        labels = {"upstream_rate": "cost per 1000"}
        help_texts = {"upstream_rate": f"What 1000 cost you to deliver, in {settings.PANEL_CURRENCY}."}


# The routes page shows at most this many matches of a search.
ROUTE_CANDIDATES_SHOWN = 50
ROUTE_COLUMNS = [
    "priority",
    "",
    "provider",
    "upstream id",
    "cost",
    "margin %",
    "min–max",
    "features",
    "quarantined until",
]


def _margin(rate: Decimal, cost: Decimal) -> str:
    return "—" if not cost else f"{((rate - cost) / cost * 100).quantize(Decimal('0.1'))}%"


def _route_margin(rate: Decimal, cost: Decimal) -> str:
    """A route's margin at the service's rate; one costing more is said to be never used (pricing fails closed)."""
    margin = _margin(rate, cost)
    return f"{margin} (too dear: never used)" if cost > rate else margin


def _features(obj: Service | Route) -> str:
    flags = [("refill", obj.refill), ("cancel", obj.cancel), ("drip-feed", obj.dripfeed)]
    return ", ".join(name for name, present in flags if present) or "—"


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin[Service]):
    form = ServiceAdminForm
    list_display = [
        "id",
        "name",
        "provider",
        "category",
        "type",
        "upstream_price",
        "cost",
        "rate",
        "margin",
        "limits",
        "features",
        "missing_upstream",
        "markup_percent",
        "fixed_rate",
        "is_active",
    ]
    list_display_links = ["id", "name"]
    list_editable = ["markup_percent", "fixed_rate", "is_active"]
    list_filter = [
        "provider",
        "category",
        "type",
        "is_active",
        "missing_upstream",
        "refill",
        "cancel",
        "dripfeed",
        ServiceAttentionFilter,
    ]
    list_select_related = ["provider", "category"]
    search_fields = ["name", "upstream_name", "=upstream_id", "=id"]
    list_per_page = 100
    actions = ["enable", "disable", "set_markup"]
    readonly_fields = [
        "provider",
        "upstream_id",
        "upstream_name",
        "type",
        "upstream_category",
        "upstream_price",
        "cost",
        "rate",
        "margin",
        "min_quantity",
        "max_quantity",
        "refill",
        "cancel",
        "dripfeed",
        "missing_upstream",
        "disabled_reason",
        "upstream_extra",
        "created_at",
        "updated_at",
        "price_history",
        "routes_table",
    ]
    fieldsets = [
        (None, {"fields": ["name", "category", "description", "is_active", "disabled_reason"]}),
        ("Orders", {"fields": ["refill_days", "deny_duplicates", "panel_dripfeed"]}),
        ("Price", {"fields": ["markup_percent", "fixed_rate", "upstream_price", "cost", "rate", "margin"]}),
        ("Price history", {"fields": ["price_history"], "classes": ["collapse"]}),
        ("Routes (lower priority is tried first; the first sets the price)", {"fields": ["routes_table"]}),
        (
            "Upstream",
            {
                "fields": [
                    "provider",
                    "upstream_id",
                    "upstream_name",
                    "type",
                    "upstream_category",
                    "min_quantity",
                    "max_quantity",
                    "refill",
                    "cancel",
                    "dripfeed",
                    "missing_upstream",
                    "upstream_extra",
                    "created_at",
                    "updated_at",
                ]
            },
        ),
    ]

    # A provider's services come from its catalog (sync); "Add service" creates a manual one, which staff fulfil
    # themselves (the staff API's fulfilment endpoints) and which is never sent upstream.
    manual_fieldsets = [
        (None, {"fields": ["name", "category", "description", "is_active", "disabled_reason"]}),
        ("Orders", {"fields": ["type", "min_quantity", "max_quantity", "refill_days", "deny_duplicates"]}),
        ("Price", {"fields": ["upstream_rate", "markup_percent", "fixed_rate", "rate", "margin"]}),
        ("Price history", {"fields": ["price_history"], "classes": ["collapse"]}),
    ]

    def _manual(self, obj: Service | None) -> bool:
        return obj is None or obj.is_manual

    def get_urls(self) -> list[URLPattern]:
        routes = path("<int:service_id>/routes/", self.admin_site.admin_view(self.routes_view),
                      name="catalog_service_routes")  # fmt: skip
        return [routes, *super().get_urls()]

    def _routes_save(self, request: HttpRequest, service: Service) -> None:
        routes = list(service.routes.values_list("pk", flat=True))
        priorities, active, removed = {}, {}, set()
        for pk in routes:
            priorities[pk] = priority_parse(str(request.POST.get(f"priority-{pk}", "")))
            active[pk] = bool(request.POST.get(f"active-{pk}"))
            if request.POST.get(f"remove-{pk}"):
                removed.add(pk)
        kept = routes_update(
            service=service, priorities=priorities, active=active, removed=removed, actor=signed_in(request)
        )
        for route in kept:
            messages.warning(
                request,
                f"Kept {route} turned off rather than removed: it is the only route to that upstream service, and "
                f"the next sync of {route.provider.name} would otherwise sell it again as a new service.",
            )

    def routes_view(self, request: HttpRequest, service_id: int) -> HttpResponse:
        """The service's routes: their priorities, on/off and removal; and a search of the upstream services the
        providers' syncs saw (by name, upstream id or provider) to add one as a route."""
        service = get_object_or_404(Service.objects.select_related("provider"), pk=service_id, provider__isnull=False)
        if not self.has_change_permission(request, service):
            raise PermissionDenied
        if request.method == "POST" and "save" in request.POST:
            try:
                self._routes_save(request, service)
            except RouteError as exc:
                messages.error(request, exc.message)
            else:
                messages.success(request, "Saved the routes.")
                return HttpResponseRedirect(reverse("admin:catalog_service_routes", args=[service.pk]))
        elif request.method == "POST":
            route_id = record_id(request.POST.get("route"))
            route = Route.objects.select_related("provider").filter(pk=route_id).first() if route_id else None
            priority = str(request.POST.get("priority", "")).strip()
            try:
                if route is None:
                    raise RouteError("Choose an upstream service from the list.")
                added = route_add(service=service, provider=route.provider, upstream_id=route.upstream_id,
                                  priority=priority_parse(priority) if priority else None,
                                  actor=signed_in(request))  # fmt: skip
            except RouteError as exc:
                messages.error(request, exc.message)
            else:
                messages.success(request, f"Added route {added} to {service.name}.")
                return HttpResponseRedirect(reverse("admin:catalog_service_routes", args=[service.pk]))
        query = str(request.GET.get("q", "")).strip()[:200]
        candidates: list[Route] = []
        if query:
            match = Q(upstream_name__icontains=query) | Q(provider__name__icontains=query)
            if re.fullmatch(r"[0-9]{1,18}", query):
                match |= Q(upstream_id=int(query))
            taken = service.routes.values_list("provider_id", "upstream_id")
            seen: set[tuple[int, int]] = set(taken)
            for route in (
                Route.objects.select_related("provider").filter(match).order_by("provider__name", "upstream_id", "pk")
            ):
                if (route.provider_id, route.upstream_id) not in seen:
                    seen.add((route.provider_id, route.upstream_id))
                    candidates.append(route)
                if len(candidates) >= ROUTE_CANDIDATES_SHOWN:
                    break
        service.refresh_from_db()
        current = [(route, _route_margin(service.rate, route.cost()), _features(route))
                   for route in service.routes.select_related("provider").order_by("priority", "pk")]  # fmt: skip
        rows = [(route, _route_margin(service.rate, route.cost())) for route in candidates]
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "service": service,
                   "title": f"Routes of {service.name}", "query": query, "rows": rows, "current": current}  # fmt: skip
        return TemplateResponse(request, "admin/catalog/service/routes.html", context)

    @admin.display(description="routes")
    def routes_table(self, obj: Service) -> str:
        routes = obj.routes.select_related("provider").order_by("priority", "pk")
        rows = ((r.priority, "on" if r.is_active else "off", r.provider.name, r.upstream_id, r.cost(),
                 _route_margin(obj.rate, r.cost()), f"{r.min_quantity}–{r.max_quantity}", _features(r),
                 r.quarantined_until or "—") for r in routes)  # fmt: skip
        body = format_html_join("", "<tr>" + "<td>{}</td>" * 9 + "</tr>", rows)
        head = format_html_join("", "<th>{}</th>", ((h,) for h in ROUTE_COLUMNS))
        link = format_html('<a href="{}">Order, switch, remove or add routes</a>',
                           reverse("admin:catalog_service_routes", args=[obj.pk]))  # fmt: skip
        return format_html("<table><tr>{}</tr>{}</table><p>{}</p>", head, body, link)

    def get_form(self, request: HttpRequest, obj: Service | None = None, change: bool = False, **kwargs: Any) -> Any:
        if self._manual(obj):
            kwargs["form"] = ManualServiceForm
        return super().get_form(request, obj, change, **kwargs)

    def get_fieldsets(self, request: HttpRequest, obj: Service | None = None) -> Any:
        return self.manual_fieldsets if self._manual(obj) else self.fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj: Service | None = None) -> Any:
        if self._manual(obj):
            return [name for name in self.readonly_fields if name not in MANUAL_FIELDS]
        return self.readonly_fields

    @admin.display(description="min–max")
    def limits(self, obj: Service) -> str:
        return f"{obj.min_quantity}–{obj.max_quantity}"

    @admin.display(description="features")
    def features(self, obj: Service) -> str:
        features = [] if (text := _features(obj)) == "—" else [text]
        return ", ".join([*features, "drip-feed by the panel"]) if obj.panel_runs_dripfeed else text

    @admin.display(description="upstream rate", ordering="upstream_rate")
    def upstream_price(self, obj: Service) -> str:
        currency = obj.provider.currency if obj.provider else settings.PANEL_CURRENCY
        return f"{obj.upstream_rate.normalize():f} {currency}"

    @admin.display(description="cost")
    def cost(self, obj: Service) -> Decimal:
        return obj.price().cost

    @admin.display(description="margin %")
    def margin(self, obj: Service) -> str:
        margin = obj.price().margin_percent
        return "—" if margin is None else f"{margin}%"

    @admin.display(description=f"last {PRICE_HISTORY_SHOWN} prices")
    def price_history(self, obj: Service) -> str:
        rows = ((f"{p.valid_from:%Y-%m-%d %H:%M}", p.rate, p.cost) for p in obj.prices.all()[:PRICE_HISTORY_SHOWN])
        table = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td></tr>", rows)
        if not table:
            return "—"
        head = format_html("<tr><th>{}</th><th>{}</th><th>{}</th></tr>", "from", "our rate", "cost")
        return format_html("<table>{}{}</table>", head, table)

    def save_model(self, request: HttpRequest, obj: Service, form: Any, change: bool) -> None:
        if not change:
            manual_service_create(service=obj, actor=signed_in(request))
            return
        service_save(service=obj, fields=form.changed_data, actor=signed_in(request))

    def delete_model(self, request: HttpRequest, obj: Service) -> None:
        services_delete(services=Service.objects.filter(pk=obj.pk))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Service]) -> None:
        services_delete(services=queryset)

    @admin.action(description="Enable selected services", permissions=["change"])
    def enable(self, request: HttpRequest, queryset: QuerySet[Service]) -> None:
        enabled, refused = services_enable(services=queryset)
        messages.success(request, f"Enabled {enabled} service(s).")
        if refused:
            names = "; ".join(f"{s.name} (#{s.pk})" for s in refused[:20])
            messages.error(request, f"Not enabled (vanished upstream, or no price at or above cost): {names}")

    @admin.action(description="Disable selected services", permissions=["change"])
    def disable(self, request: HttpRequest, queryset: QuerySet[Service]) -> None:
        messages.success(request, f"Disabled {services_disable(services=queryset)} service(s).")

    @admin.action(description="Set markup %% of selected services", permissions=["change"])
    def set_markup(self, request: HttpRequest, queryset: QuerySet[Service]) -> HttpResponse | None:
        form = MarkupForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            markup = form.cleaned_data["markup_percent"]
            disabled = services_set_markup(services=queryset, markup_percent=markup, actor=signed_in(request))
            shown = "inherited" if markup is None else f"{markup}%"
            messages.success(request, f"Markup of {queryset.count()} service(s) set to {shown}.")
            _report_disabled(request, disabled)
            return None
        services = list(queryset.order_by("pk"))
        intro = f"Set the markup of these {len(services)} service(s). Services with a fixed price keep it."
        return action_confirmation(
            request, self, action="set_markup", title="Set markup %", submit="Set markup", objects=services,
            columns=SERVICE_COLUMNS, row=_service_row, form=form, intro=intro,
        )  # fmt: skip
