"""gunicorn's settings, read from the working directory wherever the panel runs under it (Dockerfile,
docker-compose.yml, scripts/production_topology.py); the command line gives the bind address and the workers.

Caddy reads every request's head first and refuses one past its max_header_size (64 KiB, the Caddyfile) itself, with
a 431. gunicorn's own caps are far below that (a 4 KiB request line, 8 KiB per header, 100 headers): it closed the
connection on such a request while Caddy was still sending the body, and the client got Caddy's 502 page instead of
an answer (an API v2 call with a long key in its query string, found by tests/deploy). Here gunicorn's caps are
above Caddy's, so whatever Caddy lets through gets the panel's answer (API v2 with its JSON error).
"""

limit_request_line = 0  # no limit (0 is none for this one; Caddy's max_header_size bounds it)
limit_request_field_size = 70_000  # above Caddy's 64 KiB (0 would mean gunicorn's default of 8,190, not none)
limit_request_fields = 32_768  # gunicorn's most; 64 KiB hold no more
