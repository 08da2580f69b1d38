"""The one family of domain errors. Each carries a message that is safe to show to the person who acted."""


class ApplicationError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
