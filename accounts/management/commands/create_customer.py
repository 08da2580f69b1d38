from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.services import customer_create
from panel.errors import ApplicationError


class Command(BaseCommand):
    help = "Create a customer account."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--email", required=True)
        parser.add_argument("--password", help="Without one, the customer cannot log in until it is set.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            user = customer_create(username=options["username"], email=options["email"], password=options["password"])
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(self.style.SUCCESS(f"Created customer {user.username} ({user.email})."))
