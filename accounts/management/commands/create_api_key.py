from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import User
from accounts.services import api_key_issue


class Command(BaseCommand):
    help = "Issue a new API key for a user (the old one stops working); the key is the last line printed."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"No user named {options['username']!r}.")
        key = api_key_issue(user=user)
        self.stdout.write(f"New API key for {user.username} (shown once; the previous key no longer works):")
        self.stdout.write(key)
