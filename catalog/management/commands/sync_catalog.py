from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from catalog.models import Provider
from catalog.services.sync import catalog_sync


class Command(BaseCommand):
    help = "Import the service catalog of every active provider (or one) from upstream, synchronously."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--provider", help="Only this provider (by name).")

    def handle(self, *args: Any, **options: Any) -> None:
        providers = Provider.objects.filter(is_active=True)
        if options["provider"]:
            providers = Provider.objects.filter(name=options["provider"])
            if not providers.exists():
                raise CommandError(f"No provider named {options['provider']!r}.")
        failed = 0
        for provider in providers:
            result = catalog_sync(provider=provider)
            style = self.style.SUCCESS if result.ok else self.style.ERROR
            self.stdout.write(style(f"{provider.name}: {result.summary()}"))
            failed += not result.ok
        if failed:
            raise CommandError(f"{failed} provider(s) could not be synced.")
