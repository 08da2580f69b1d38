"""Orders, refills and cancels: placement, forwarding upstream exactly once, batched polling, refunds."""
