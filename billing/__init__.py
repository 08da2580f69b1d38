"""Wallets and the append-only ledger (not built yet)."""
