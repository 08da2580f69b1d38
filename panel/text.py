"""What text from a client must be before it is stored, hashed or sent on."""

import re

# A lone surrogate (which only a JSON `\ud800` escape can carry) has no UTF-8 form: the database driver, hashlib,
# requests and our own JSON answers all raise on one. PostgreSQL keeps no NUL byte in text either.
_SURROGATE = re.compile("[\ud800-\udfff]")
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def encodable(text: str) -> bool:
    """Whether UTF-8 can carry this text (it holds no lone surrogate)."""
    return _SURROGATE.search(text) is None


def storable(text: str) -> bool:
    """Whether the database can keep this text and UTF-8 can carry it."""
    return _UNSTORABLE.search(text) is None
