"""The one catalogue of API v2 error strings, exactly as clients match them: the protocol's own, then our
endpoint's extensions. Our API, our pages (translated) and the simulator provider all take them from here.

Framework-free like the rest of upstream/: `gettext_noop` below only marks each string for makemessages (which
finds the call by its name); pages translate the message when they show it.
"""


def gettext_noop(message: str) -> str:
    return message


# The protocol's strings (API_V2.md).
INVALID_KEY = gettext_noop("Invalid API key")
INCORRECT_REQUEST = gettext_noop("Incorrect request")
INCORRECT_SERVICE = gettext_noop("Incorrect service ID")
INCORRECT_ORDER = gettext_noop("Incorrect order ID")
INCORRECT_LINK = gettext_noop("Incorrect link")
INCORRECT_QUANTITY = gettext_noop("Incorrect quantity")
QUANTITY_BELOW_MIN = gettext_noop("Quantity less than minimal %(min)s")
QUANTITY_ABOVE_MAX = gettext_noop("Quantity more than maximum %(max)s")
NOT_ENOUGH_FUNDS = gettext_noop("Not enough funds on balance")
DUPLICATE_LINK = gettext_noop("You have active order with this link. Please wait until order being completed.")
DRIPFEED_DISABLED = gettext_noop("Drip-feed is disabled for this service")
REFILL_DISABLED = gettext_noop("Refill is disabled for this order")
REFILL_NOT_FOUND = gettext_noop("Refill not found")
CANCEL_DISABLED = gettext_noop("Cancel is disabled for this order")
TOO_MANY_IDS = gettext_noop("Too many ids")
TOO_MANY_REQUESTS = gettext_noop("Too many requests")

# Our endpoint's own.
IDEMPOTENCY_REUSED = gettext_noop("Idempotency key reused with different parameters")
IDEMPOTENCY_KEY_LENGTH = gettext_noop("The idempotency key must be 1 to 64 printable characters.")
INVALID_CHARACTERS = gettext_noop(
    "The text contains a character that cannot be stored (a NUL byte or a lone surrogate)."
)
ACCOUNT_ON_HOLD = gettext_noop(
    "Your account is on hold: a payment was taken back and the balance did not cover it. Contact support."
)
UNSUPPORTED_TYPE = gettext_noop("%(type)s services are not supported yet: choose another service.")
