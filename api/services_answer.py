"""The answer of `services`, encoded once per catalog version and discount in each worker process.

It depends on nothing else: every write to what is for sale gives the catalog a new version (catalog_changed), and
the discount is the caller's own. Reading the version is one small read from the cache; the answer itself, up to a
megabyte for a large catalog, never leaves the process. It is kept gzipped too, for the clients that take it so.
"""

import threading
from decimal import Decimal
from typing import Any

from django.utils.text import compress_string

from accounts.models import User
from api.protocol import rate_text
from api.transport import EncodedAnswer, JSONAnswerRenderer
from catalog.selectors import catalog_version, customer_catalog

# Distinct (version, discount) answers kept per process; the oldest goes first. Most panels have a few discounts.
KEPT = 16
_answers: dict[tuple[str, Decimal], EncodedAnswer] = {}
_lock = threading.Lock()


def _entry(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "service": row["pk"],
        "name": row["name"],
        "type": row["type"],
        "category": row["category"],
        "rate": rate_text(row["rate"]),
        "min": str(row["min"]),
        "max": str(row["max"]),
        "refill": row["refill"],
        "cancel": row["cancel"],
        "dripfeed": row["dripfeed"],
        "desc": row["description"],
    }


def services_answer(*, user: User) -> EncodedAnswer:
    """The JSON of `services` for this customer: every service on sale at their own rate."""
    # The version is read before the catalog: an answer built from a catalog newer than its version is only
    # rebuilt once more; never is an older catalog kept under a newer version.
    key = (catalog_version(), user.discount_percent)
    answer = _answers.get(key)
    if answer is None:
        plain = JSONAnswerRenderer().encode([_entry(row) for row in customer_catalog(user=user)])
        # No secret and nothing the client sent is in it: compressing it gives nothing away (BREACH).
        answer = EncodedAnswer(plain=plain, gzipped=compress_string(plain))
        with _lock:
            while len(_answers) >= KEPT:
                _answers.pop(next(iter(_answers)))
            _answers[key] = answer
    return answer
