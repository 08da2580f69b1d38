"""Every write to orders, one module per job: placement, forwarding, polling, followups (refills and
cancels), operators (operators' actions) and lifecycle (every move to a final status and its refund)."""
