"""Our public API v2: parse what real clients send, call the same services as the web pages, answer in the
protocol's exact shapes (API_V2.md). No upstream I/O happens here."""
