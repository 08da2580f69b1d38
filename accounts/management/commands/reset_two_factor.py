from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import User
from accounts.two_factor import two_factor_reset


class Command(BaseCommand):
    help = "Remove a user's two-factor devices (a lost phone): staff enrol again at their next sign-in."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"No user named {options['username']}.")
        removed = two_factor_reset(user=user)
        self.stdout.write(self.style.SUCCESS(f"Removed {removed} two-factor device(s) of {user.username}."))
