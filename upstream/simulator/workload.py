"""A provider's book of orders in a realistic mix of states, for benchmarks (`--orders N` serves one).

Orders 1..N, oldest first: the older an order, the likelier it has ended (Completed, Partial or Canceled);
most are still in progress and the newest are pending. Read on a frozen clock (`--speed 0`), each reports the
same status on every call, so a benchmark knows what every answer will say.
"""

import random
from decimal import ROUND_HALF_UP, Decimal

from .state import SimOrder, Timing

UPSTREAM_RATE = Decimal("0.9")
QUANTITIES = (100, 250, 500, 1000, 2500, 5000, 10000)
_CENTS5 = Decimal("0.00001")


def _outcome(rng: random.Random, age_share: float) -> str | None:
    """The end an order reached, or None while it runs. The oldest orders are the likeliest to have ended."""
    if rng.random() >= 0.7 * age_share**2:
        return None
    return rng.choices(("Completed", "Partial", "Canceled"), weights=(60, 25, 15))[0]


def order_book(count: int, *, now: float, timing: Timing, service: int = 1, seed: int = 13) -> list[SimOrder]:
    """`count` orders (ids 1..count) of `service` as they stand at `now`; the same `seed` gives the same book."""
    rng = random.Random(seed)
    finished = timing.pending + timing.delivery
    orders = []
    for order_id in range(1, count + 1):
        age_share = 1 - order_id / count  # 1 for the oldest order, 0 for the newest
        outcome = _outcome(rng, age_share)
        if outcome is not None:
            age = finished + rng.uniform(0, 86400)
        elif age_share < 0.03:
            age = rng.uniform(0, timing.pending * 0.9)
        else:
            # Running: between 1% and 99% of the way, never at its end.
            age = timing.pending + timing.delivery * rng.uniform(0.01, 0.99)
        quantity = rng.choice(QUANTITIES)
        charge = (UPSTREAM_RATE * quantity / 1000).quantize(_CENTS5, rounding=ROUND_HALF_UP)
        orders.append(
            SimOrder(id=order_id, service=service, quantity=quantity, charge=charge,
                     start_count=rng.randrange(100_000), created_at=now - age, outcome=outcome or "Completed")
        )  # fmt: skip
    return orders
