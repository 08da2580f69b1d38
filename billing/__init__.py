"""Wallets and the append-only ledger: every movement of a customer's money goes through billing.services."""
