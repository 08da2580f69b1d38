"""The one family of domain errors. Each carries a message that is safe to show to the person who acted.

The message is English, exactly as API v2 clients expect it; pages show `translated()`, the same message in
the reader's language. Messages with values are templates (`"Quantity less than minimal %(min)s"`) marked
with gettext_noop where they are defined, so that the catalog holds them.
"""

from django.utils.translation import gettext


class ApplicationError(Exception):
    def __init__(self, message: str, *, field: str | None = None, **params: object) -> None:
        self.template = message
        self.params = params
        self.message = message % params if params else message
        # The form field the problem is about, where there is one (pages show the error next to it).
        self.field = field
        super().__init__(self.message)

    def translated(self) -> str:
        text = gettext(self.template)
        return text % self.params if self.params else text
