"""The API v2 service types in one table: what `add` takes for each, how its quantity is counted, and whether
the panel takes orders for it. Validation, forwarding, polling, the order pages, the API docs and the
simulator all read this table; nothing else names a type.
"""

from dataclasses import dataclass

# Every field whose value is one entry per line.
LINE_FIELDS = frozenset({"comments", "usernames", "hashtags", "groups"})
WEB_TRAFFIC_OPTIONS = ("country", "device", "type_of_traffic", "google_keyword", "referring_url")


@dataclass(frozen=True)
class ServiceType:
    name: str
    fields: tuple[str, ...] = ()  # required type-specific fields, in the order a form shows them
    optional: tuple[str, ...] = ()  # optional type-specific fields
    link: bool = True
    counted: str | None = None  # the quantity is the number of lines of this field
    package: bool = False  # one fixed bundle: quantity 1, and upstream `remains` are not in units
    dripfeed: bool = False  # runs and interval may be given (when the service allows drip-feed)
    supported: bool = True  # the panel takes orders for it

    @property
    def quantity(self) -> bool:
        """Whether `quantity` is a parameter of `add` (packages have none; counted types count lines)."""
        return not self.package and self.counted is None

    def params(self, *, dripfeed: bool) -> list[str]:
        """The parameters of `add` for this type, in the order a form shows them."""
        names = [*(["link"] if self.link else []), *(["quantity"] if self.quantity else [])]
        names += [*self.fields, *self.optional]
        return names + (["runs", "interval"] if self.dripfeed and dripfeed else [])


SERVICE_TYPES: dict[str, ServiceType] = {
    kind.name: kind
    for kind in (
        ServiceType("Default", dripfeed=True),
        ServiceType("Package", package=True),
        ServiceType("Custom Comments", fields=("comments",), counted="comments"),
        ServiceType("Custom Comments Package", fields=("comments",), package=True),
        ServiceType("Mentions", fields=("usernames",)),
        ServiceType("Mentions with Hashtags", fields=("usernames", "hashtags")),
        ServiceType("Mentions Custom List", fields=("usernames",), counted="usernames"),
        ServiceType("Mentions Hashtag", fields=("hashtag",)),
        ServiceType("Mentions User Followers", fields=("username",)),
        ServiceType("Mentions Media Likers", fields=("media",)),
        ServiceType("Comment Likes", fields=("username",)),
        ServiceType("Comment Replies", fields=("username", "comments"), counted="comments"),
        ServiceType("Poll", fields=("answer_number",)),
        ServiceType("Invites from Groups", fields=("groups",)),
        # A recurring order with its own parameters (posts, delay, expiry): not taken by the panel.
        ServiceType("Subscriptions", supported=False),
        ServiceType("Web Traffic", optional=WEB_TRAFFIC_OPTIONS, dripfeed=True),
    )
}
SUPPORTED_TYPES = {name: kind for name, kind in SERVICE_TYPES.items() if kind.supported}
# Every parameter that can shape an order of some type; anything else a client sends is not part of it.
ORDER_PARAMS = frozenset(
    {
        "link",
        "quantity",
        "runs",
        "interval",
        *(name for t in SERVICE_TYPES.values() for name in (*t.fields, *t.optional)),
    }
)


def service_type(name: str) -> ServiceType | None:
    """The type the panel takes orders for under this (standard) name, else None."""
    return SUPPORTED_TYPES.get(name)


def kind_of(name: str) -> ServiceType:
    """The type under this name, for an order already placed: a later sync may have renamed its service's type to
    one this table does not know; by the convention providers follow, such a name ending in "Package" is one."""
    return SERVICE_TYPES.get(name) or ServiceType(name, package=name.endswith("Package"), supported=False)
