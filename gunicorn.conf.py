"""gunicorn's settings, read from the working directory wherever the panel runs under it (Dockerfile,
docker-compose.yml, scripts/production_topology.py); the command line gives the bind address and the workers.

Caddy reads every request's head first and refuses one past its max_header_size (the Caddyfile) itself, with a 431.
gunicorn's own caps are far below that (a 4 KiB request line, 8 KiB per header): it closed the connection on such a
request while Caddy was still sending the body, and the client got Caddy's 502 page instead of an answer (an API v2
call with a long key in its query string, found by tests/deploy). Caddy's limit is the only one: the panel answers
whatever it lets through (API v2 with its JSON error).
"""

limit_request_line = 0  # no limit of gunicorn's own (Caddy's max_header_size bounds it)
limit_request_field_size = 0  # likewise for a header
