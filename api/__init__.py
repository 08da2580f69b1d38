"""Our public API v2 endpoint (not built yet)."""
