from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from catalog.models import Provider, Service
from catalog.services.routes import RouteError, route_add


class Command(BaseCommand):
    help = "Add a provider's upstream service (as last synced) as a route of a service; last unless --priority."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("service_id", type=int)
        parser.add_argument("provider_name")
        parser.add_argument("upstream_service_id", type=int)
        parser.add_argument("--priority", type=int, default=None, help="Lower is tried first; 0 is the first route.")

    def handle(self, *args: Any, **options: Any) -> None:
        service = Service.objects.filter(pk=options["service_id"]).first()
        if service is None:
            raise CommandError(f"Route not added: there is no service {options['service_id']}.")
        provider = Provider.objects.filter(name=options["provider_name"]).first()
        if provider is None:
            raise CommandError(f"Route not added: there is no provider named {options['provider_name']!r}.")
        try:
            route = route_add(service=service, provider=provider, upstream_id=options["upstream_service_id"],
                              priority=options["priority"], actor=None)  # fmt: skip
        except RouteError as exc:
            raise CommandError(f"Route not added: {exc.message}") from None
        routes = ", ".join(f"{r} (priority {r.priority})" for r in service.routes.select_related("provider"))
        self.stdout.write(self.style.SUCCESS(f"Added route {route} to service {service.pk}. Its routes: {routes}."))
