"""Orders, refills and cancels: placement, forwarding upstream, polling (not built yet)."""
