"""Framework-free API v2 code: protocol types and tolerant parsing, the HTTP client, the simulator provider.

Nothing here imports Django, so the client and the simulator can be used and tested on their own.
"""
