from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import User
from api.staff.tokens import staff_token_issue
from panel.errors import ApplicationError


class Command(BaseCommand):
    help = (
        "Issue a staff API token for an active staff member (their previous token stops working); the token is "
        "the last line printed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"No user named {options['username']!r}.")
        try:
            token = staff_token_issue(user=user)
        except ApplicationError as exc:
            raise CommandError(f"{user.username}: {exc.message}") from None
        self.stdout.write(
            f"New staff API token for {user.username} (shown once; the previous one no longer works). "
            "Send it as the header Authorization: Token <token>."
        )
        self.stdout.write(token)
